package ipvs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"sync"
	"testing"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/genetlink/genltest"
	"github.com/mdlayher/netlink"
	"github.com/mdlayher/netlink/nltest"
	"golang.org/x/sys/unix"
)

// fakeKernel answers generic-netlink requests the way the ip_vs module
// does (ip_vs_genl_* in net/netfilter/ipvs/ip_vs_ctl.c), from a table of
// Service values. Its encoder is independent of the package's decoder: it
// uses netlink.AttributeEncoder, and its request parser netlink.AttributeDecoder.
type fakeKernel struct {
	mu sync.Mutex

	loaded    bool   // the "IPVS" family exists
	familyID  uint16 // its ID
	services  []Service
	noStats64 bool // an old kernel: legacy STATS only
	info      Info
	timeouts  Timeouts

	// errno to answer instead, per IPVS command (0 = answer normally).
	errs map[uint8]int
	// errno to answer to CTRL_CMD_GETFAMILY (0 = answer normally).
	getFamilyErr int

	// Recorded requests.
	writes        []fakeWrite // every write command that reached IPVS
	getFamilies   int
	lookupsByName int      // CTRL_CMD_GETFAMILY without NLM_F_DUMP
	destReqs      [][]byte // payload (after the genl header) of each GET_DEST
	cmds          []uint8

	// raw holds replies encoded in advance (benchmarks), see fastPath.
	raw map[string][]netlink.Message
}

func newFakeKernel(services []Service) *fakeKernel {
	return &fakeKernel{
		loaded:   true,
		familyID: 0x2a,
		services: services,
		info:     Info{Version: 0x010201, ConnTableSize: 4096},
		timeouts: Timeouts{TCP: 900, TCPFin: 120, UDP: 300},
		errs:     map[uint8]int{},
	}
}

// dial connects a generic-netlink socket to the fake. It adapts k.serve
// (a genltest.Func) to netlink messages itself rather than through
// genltest.Dial, because genltest.Error copies the request's flags into the
// error reply, and a dump request's NLM_F_DUMP shares its bit with
// NLM_F_ACK_TLVS, which makes the netlink package reject the error reply.
// Like the kernel, the adapter ends dumps with a NLMSG_DONE, marks their
// parts NLM_F_MULTI, and answers errors with NLMSG_ERROR carrying the
// request's header.
func (k *fakeKernel) dial() (*genetlink.Conn, error) {
	return genetlink.NewConn(nltest.Dial(k.fastPath(adaptFunc(k.serve)))), nil
}

// fastPath answers from k.raw, replies encoded in advance for benchmarks,
// keyed by the request's generic-netlink header and payload.
func (k *fakeKernel) fastPath(next nltest.Func) nltest.Func {
	return func(reqs []netlink.Message) ([]netlink.Message, error) {
		if k.raw != nil && len(reqs) == 1 {
			if replies, ok := k.raw[string(reqs[0].Data)]; ok {
				out := make([]netlink.Message, len(replies))
				for i, r := range replies {
					r.Header.Sequence, r.Header.PID = reqs[0].Header.Sequence, reqs[0].Header.PID
					out[i] = r
				}
				return out, nil
			}
		}
		return next(reqs)
	}
}

func adaptFunc(fn genltest.Func) nltest.Func {
	return func(reqs []netlink.Message) ([]netlink.Message, error) {
		if len(reqs) == 0 {
			// A receive with no request outstanding: nothing to read.
			return nil, io.EOF
		}
		if len(reqs) != 1 {
			return nil, fmt.Errorf("fake: %d requests in one send", len(reqs))
		}
		req := reqs[0]
		var greq genetlink.Message
		if err := greq.UnmarshalBinary(req.Data); err != nil {
			return nil, err
		}
		replies, err := fn(greq, req)
		var errno unix.Errno
		if errors.As(err, &errno) {
			data := binary.NativeEndian.AppendUint32(nil, uint32(-int32(errno)))
			data = binary.NativeEndian.AppendUint32(data, req.Header.Length)
			data = binary.NativeEndian.AppendUint16(data, uint16(req.Header.Type))
			data = binary.NativeEndian.AppendUint16(data, uint16(req.Header.Flags))
			data = binary.NativeEndian.AppendUint32(data, req.Header.Sequence)
			data = binary.NativeEndian.AppendUint32(data, req.Header.PID)
			return []netlink.Message{{
				Header: netlink.Header{Type: netlink.Error, Flags: netlink.Capped, Sequence: req.Header.Sequence, PID: req.Header.PID},
				Data:   data,
			}}, nil
		}
		if err != nil {
			return nil, err
		}
		dump := req.Header.Flags&netlink.Dump == netlink.Dump
		if !dump && len(replies) == 0 && req.Header.Flags&netlink.Acknowledge != 0 {
			// The kernel's ACK: an NLMSG_ERROR with error 0.
			data := binary.NativeEndian.AppendUint32(nil, 0)
			data = binary.NativeEndian.AppendUint32(data, req.Header.Length)
			data = binary.NativeEndian.AppendUint16(data, uint16(req.Header.Type))
			data = binary.NativeEndian.AppendUint16(data, uint16(req.Header.Flags))
			data = binary.NativeEndian.AppendUint32(data, req.Header.Sequence)
			data = binary.NativeEndian.AppendUint32(data, req.Header.PID)
			return []netlink.Message{{
				Header: netlink.Header{Type: netlink.Error, Flags: netlink.Capped, Sequence: req.Header.Sequence, PID: req.Header.PID},
				Data:   data,
			}}, nil
		}
		out := make([]netlink.Message, 0, len(replies)+1)
		for _, r := range replies {
			b, err := r.MarshalBinary()
			if err != nil {
				return nil, err
			}
			h := netlink.Header{Type: req.Header.Type, Sequence: req.Header.Sequence, PID: req.Header.PID}
			if dump {
				h.Flags = netlink.Multi
			}
			out = append(out, netlink.Message{Header: h, Data: b})
		}
		if dump {
			out = append(out, netlink.Message{
				Header: netlink.Header{Type: netlink.Done, Flags: netlink.Multi, Sequence: req.Header.Sequence, PID: req.Header.PID},
				Data:   []byte{0, 0, 0, 0},
			})
		}
		return out, nil
	}
}

func (k *fakeKernel) set(fn func(k *fakeKernel)) {
	k.mu.Lock()
	defer k.mu.Unlock()
	fn(k)
}

func (k *fakeKernel) serve(greq genetlink.Message, nreq netlink.Message) ([]genetlink.Message, error) {
	k.mu.Lock()
	defer k.mu.Unlock()

	if nreq.Header.Type == unix.GENL_ID_CTRL {
		return k.serveGetFamily(greq, nreq)
	}
	if !k.loaded || uint16(nreq.Header.Type) != k.familyID {
		// genl_rcv_msg: no family with that ID.
		return nil, unix.ENOENT
	}
	cmd := greq.Header.Command
	k.cmds = append(k.cmds, cmd)
	if errno := k.errs[cmd]; errno != 0 {
		return nil, unix.Errno(errno)
	}
	dump := nreq.Header.Flags&netlink.Dump != 0
	switch cmd {
	case cmdNewService, cmdSetService, cmdDelService, cmdNewDest, cmdSetDest, cmdDelDest:
		if nreq.Header.Flags&netlink.Acknowledge == 0 {
			return nil, fmt.Errorf("fake: write command %d without NLM_F_ACK: success would be silent", cmd)
		}
		k.writes = append(k.writes, fakeWrite{cmd: cmd, data: append([]byte(nil), greq.Data...)})
		return nil, k.applyWrite(cmd, greq.Data)
	case cmdGetService:
		if !dump {
			return nil, fmt.Errorf("fake: GET_SERVICE without the dump flag")
		}
		msgs := make([]genetlink.Message, 0, len(k.services))
		for i := range k.services {
			msgs = append(msgs, genetlink.Message{
				Header: genetlink.Header{Command: cmdNewService, Version: genlVersion},
				Data:   encodeService(&k.services[i], !k.noStats64),
			})
		}
		return msgs, nil
	case cmdGetDest:
		if !dump {
			return nil, fmt.Errorf("fake: GET_DEST without the dump flag")
		}
		k.destReqs = append(k.destReqs, append([]byte(nil), greq.Data...))
		svc := k.findService(greq.Data)
		if svc == nil {
			// ip_vs_genl_dump_dests answers an empty dump for an unknown
			// or malformed service identity.
			return nil, nil
		}
		msgs := make([]genetlink.Message, 0, len(svc.Destinations))
		for i := range svc.Destinations {
			msgs = append(msgs, genetlink.Message{
				Header: genetlink.Header{Command: cmdNewDest, Version: genlVersion},
				Data:   encodeDest(&svc.Destinations[i], !k.noStats64),
			})
		}
		return msgs, nil
	case cmdGetInfo:
		ae := netlink.NewAttributeEncoder()
		ae.Uint32(infoAttrVersion, k.info.Version)
		ae.Uint32(infoAttrConnTabSize, k.info.ConnTableSize)
		return reply(16 /* IPVS_CMD_SET_INFO */, ae)
	case cmdGetConfig:
		ae := netlink.NewAttributeEncoder()
		ae.Uint32(cmdAttrTimeoutTCP, k.timeouts.TCP)
		ae.Uint32(cmdAttrTimeoutTCPFin, k.timeouts.TCPFin)
		ae.Uint32(cmdAttrTimeoutUDP, k.timeouts.UDP)
		return reply(14 /* IPVS_CMD_SET_CONFIG */, ae)
	}
	return nil, unix.EOPNOTSUPP
}

func reply(cmd uint8, ae *netlink.AttributeEncoder) ([]genetlink.Message, error) {
	b, err := ae.Encode()
	if err != nil {
		return nil, err
	}
	return []genetlink.Message{{Header: genetlink.Header{Command: cmd, Version: genlVersion}, Data: b}}, nil
}

func (k *fakeKernel) serveGetFamily(greq genetlink.Message, nreq netlink.Message) ([]genetlink.Message, error) {
	if greq.Header.Command != unix.CTRL_CMD_GETFAMILY {
		return nil, unix.EOPNOTSUPP
	}
	k.getFamilies++
	if k.getFamilyErr != 0 {
		return nil, unix.Errno(k.getFamilyErr)
	}
	if nreq.Header.Flags&netlink.Dump != netlink.Dump {
		// A lookup by name: the real kernel would load ip_vs if it is
		// installed, which the package must never cause.
		k.lookupsByName++
		return nil, unix.ENOENT
	}
	families := []genetlink.Message{familyMsg(unix.GENL_ID_CTRL, "nlctrl")}
	if k.loaded {
		families = append(families, familyMsg(k.familyID, genlFamilyName))
	}
	families = append(families, familyMsg(k.familyID+7, "devlink"))
	return families, nil
}

func familyMsg(id uint16, name string) genetlink.Message {
	ae := netlink.NewAttributeEncoder()
	ae.String(unix.CTRL_ATTR_FAMILY_NAME, name)
	ae.Uint16(unix.CTRL_ATTR_FAMILY_ID, id)
	ae.Uint32(unix.CTRL_ATTR_VERSION, genlVersion)
	ae.Uint32(unix.CTRL_ATTR_HDRSIZE, 0)
	ae.Uint32(unix.CTRL_ATTR_MAXATTR, 6)
	b, err := ae.Encode()
	if err != nil {
		panic(err)
	}
	return genetlink.Message{Header: genetlink.Header{Command: unix.CTRL_CMD_NEWFAMILY, Version: 2}, Data: b}
}

// findService parses a GET_DEST request's service identity the way
// ip_vs_genl_parse_service does and looks the service up.
func (k *fakeKernel) findService(req []byte) *Service {
	id, ok := parseIdentity(req)
	if !ok {
		return nil
	}
	for i := range k.services {
		s := &k.services[i]
		if s.Family != id.Family {
			continue
		}
		if id.FWMark != 0 {
			if s.FWMark == id.FWMark {
				return s
			}
			continue
		}
		if s.FWMark == 0 && s.Protocol == id.Protocol && s.Address == id.Address && s.Port == id.Port {
			return s
		}
	}
	return nil
}

// parseIdentity decodes the IPVS_CMD_ATTR_SERVICE of a request. ok is false
// when the kernel would reject it: no family, or neither a fwmark nor all of
// protocol, address and port.
func parseIdentity(req []byte) (ServiceKey, bool) {
	var k ServiceKey
	ad, err := netlink.NewAttributeDecoder(req)
	if err != nil {
		return k, false
	}
	var haveAF, haveProto, havePort, haveMark bool
	var addr []byte
	for ad.Next() {
		if ad.Type() != cmdAttrService {
			continue
		}
		ad.Nested(func(nad *netlink.AttributeDecoder) error {
			for nad.Next() {
				switch nad.Type() {
				case svcAttrAF:
					k.Family, haveAF = nad.Uint16(), true
				case svcAttrProtocol:
					k.Protocol, haveProto = Protocol(nad.Uint16()), true
				case svcAttrAddr:
					addr = nad.Bytes()
				case svcAttrPort:
					k.Port, havePort = binary.BigEndian.Uint16(nad.Bytes()), true
				case svcAttrFWMark:
					k.FWMark, haveMark = nad.Uint32(), true
				}
			}
			return nil
		})
	}
	if ad.Err() != nil || !haveAF {
		return k, false
	}
	if haveMark && k.FWMark != 0 {
		// The kernel ignores protocol/address/port here.
		k.Protocol, k.Address, k.Port = 0, netip.Addr{}, 0
		return k, true
	}
	if !haveProto || !havePort || addr == nil {
		return k, false
	}
	// nla_memcpy into a zeroed 16-byte union.
	var u [16]byte
	copy(u[:], addr)
	if k.Family == FamilyIPv4 {
		k.Address = netip.AddrFrom4([4]byte(u[:4]))
	} else {
		k.Address = netip.AddrFrom16(u)
	}
	return k, true
}

// identityAttrTypes lists the attribute types nested in a request's
// IPVS_CMD_ATTR_SERVICE, in order.
func identityAttrTypes(t testing.TB, req []byte) []uint16 {
	t.Helper()
	var types []uint16
	ad, err := netlink.NewAttributeDecoder(req)
	if err != nil {
		t.Fatal(err)
	}
	for ad.Next() {
		if ad.Type() != cmdAttrService {
			t.Errorf("request carries top-level attribute %d", ad.Type())
			continue
		}
		ad.Nested(func(nad *netlink.AttributeDecoder) error {
			for nad.Next() {
				types = append(types, nad.Type())
			}
			return nil
		})
	}
	if err := ad.Err(); err != nil {
		t.Fatal(err)
	}
	return types
}

// encodeService encodes a service the way ip_vs_genl_fill_service does.
func encodeService(s *Service, stats64 bool) []byte {
	ae := netlink.NewAttributeEncoder()
	ae.Nested(cmdAttrService, func(nae *netlink.AttributeEncoder) error {
		nae.Uint16(svcAttrAF, s.Family)
		if s.FWMark != 0 {
			nae.Uint32(svcAttrFWMark, s.FWMark)
		} else {
			nae.Uint16(svcAttrProtocol, uint16(s.Protocol))
			nae.Bytes(svcAttrAddr, unionAddr(s.Address))
			nae.Bytes(svcAttrPort, binary.BigEndian.AppendUint16(nil, s.Port))
		}
		nae.String(svcAttrSchedName, s.Scheduler)
		if s.PEName != "" {
			nae.String(svcAttrPEName, s.PEName)
		}
		flags := binary.NativeEndian.AppendUint32(nil, s.Flags)
		flags = binary.NativeEndian.AppendUint32(flags, 0xffffffff)
		nae.Bytes(svcAttrFlags, flags)
		nae.Uint32(svcAttrTimeout, s.Timeout)
		nae.Uint32(svcAttrNetmask, s.Netmask)
		encodeStats(nae, svcAttrStats, svcAttrStats64, s.Stats, stats64)
		return nil
	})
	b, err := ae.Encode()
	if err != nil {
		panic(err)
	}
	return b
}

// encodeDest encodes a destination the way ip_vs_genl_fill_dest does.
func encodeDest(d *Destination, stats64 bool) []byte {
	ae := netlink.NewAttributeEncoder()
	ae.Nested(cmdAttrDest, func(nae *netlink.AttributeEncoder) error {
		nae.Bytes(destAttrAddr, unionAddr(d.Address))
		nae.Bytes(destAttrPort, binary.BigEndian.AppendUint16(nil, d.Port))
		nae.Uint32(destAttrFwdMethod, uint32(d.Forward))
		nae.Uint32(destAttrWeight, uint32(d.Weight))
		nae.Uint8(destAttrTunType, uint8(d.TunnelType))
		nae.Bytes(destAttrTunPort, binary.BigEndian.AppendUint16(nil, d.TunnelPort))
		nae.Uint16(destAttrTunFlags, uint16(d.TunnelFlags))
		nae.Uint32(destAttrUThresh, d.UpperThreshold)
		nae.Uint32(destAttrLThresh, d.LowerThreshold)
		nae.Uint32(destAttrActiveConns, d.ActiveConns)
		nae.Uint32(destAttrInactConns, d.InactiveConns)
		nae.Uint32(destAttrPersistConns, d.PersistConns)
		nae.Uint16(destAttrAddrFamily, d.Family)
		encodeStats(nae, destAttrStats, destAttrStats64, d.Stats, stats64)
		return nil
	})
	b, err := ae.Encode()
	if err != nil {
		panic(err)
	}
	return b
}

// encodeStats encodes the legacy STATS (counts truncated to u32, as the
// kernel does) and, unless an old kernel is faked, STATS64.
func encodeStats(ae *netlink.AttributeEncoder, legacyType, type64 uint16, s Stats, stats64 bool) {
	ae.Nested(legacyType, func(nae *netlink.AttributeEncoder) error {
		nae.Uint32(statsAttrConns, uint32(s.Connections))
		nae.Uint32(statsAttrInPkts, uint32(s.PacketsIn))
		nae.Uint32(statsAttrOutPkts, uint32(s.PacketsOut))
		nae.Uint64(statsAttrInBytes, s.BytesIn)
		nae.Uint64(statsAttrOutBytes, s.BytesOut)
		for t := uint16(statsAttrCPS); t <= statsAttrOutBPS; t++ {
			nae.Uint32(t, 12345)
		}
		return nil
	})
	if !stats64 {
		return
	}
	ae.Nested(type64, func(nae *netlink.AttributeEncoder) error {
		nae.Uint64(statsAttrConns, s.Connections)
		nae.Uint64(statsAttrInPkts, s.PacketsIn)
		nae.Uint64(statsAttrOutPkts, s.PacketsOut)
		nae.Uint64(statsAttrInBytes, s.BytesIn)
		nae.Uint64(statsAttrOutBytes, s.BytesOut)
		for t := uint16(statsAttrCPS); t <= statsAttrOutBPS; t++ {
			nae.Uint64(t, 1<<33)
		}
		// nla_put_u64_64bit pads with an empty IPVS_STATS_ATTR_PAD.
		nae.Bytes(statsAttrPad, nil)
		return nil
	})
}

func unionAddr(a netip.Addr) []byte {
	u := make([]byte, 16)
	if a.Is4() {
		v4 := a.As4()
		copy(u, v4[:])
	} else {
		v6 := a.As16()
		copy(u, v6[:])
	}
	return u
}
