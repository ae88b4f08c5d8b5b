package health

import (
	"fmt"
	"maps"
	"slices"

	"golang.org/x/net/bpf"
)

// synTCPFilter accepts segments with ACK and SYN or RST set, the only
// ones that answer a SYN, to one of ports: the director's own connections'
// SYN-ACKs and RSTs, and everything else, stay out of the scanner's
// socket. IPv4 raw sockets see the IP header first, IPv6 ones the TCP
// header. No jump is longer than one instruction (they can skip at most
// 255), whatever the number of ports.
func synTCPFilter(v6 bool, ports []uint16) []bpf.Instruction {
	var prog []bpf.Instruction
	if v6 {
		prog = append(prog, bpf.LoadAbsolute{Off: 13, Size: 1})
	} else {
		prog = append(prog,
			bpf.LoadMemShift{Off: 0}, // X = IP header length
			bpf.LoadIndirect{Off: 13, Size: 1},
		)
	}
	prog = append(prog,
		bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: synFlagACK, SkipFalse: 1},
		bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: synFlagSYN | synFlagRST, SkipTrue: 1},
		bpf.RetConstant{Val: 0},
	)
	if v6 {
		prog = append(prog, bpf.LoadAbsolute{Off: 2, Size: 2})
	} else {
		prog = append(prog, bpf.LoadIndirect{Off: 2, Size: 2})
	}
	for _, port := range ports {
		prog = append(prog,
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(port), SkipFalse: 1},
			bpf.RetConstant{Val: 1 << 16},
		)
	}
	return append(prog, bpf.RetConstant{Val: 0})
}

// pass changes by delta the number of checks that hold port as their own
// (see acquire) and attaches to the raw TCP socket the filter that passes
// the pool's ports and every port held.
func (f *synFamily) pass(port uint16, delta int) error {
	f.filterMu.Lock()
	defer f.filterMu.Unlock()
	f.own[port] += delta
	err := f.attach()
	if err != nil {
		f.own[port] -= delta
	}
	if f.own[port] <= 0 {
		delete(f.own, port)
	}
	if err != nil {
		return fmt.Errorf("filter the raw socket for port %d: %w", port, err)
	}
	return nil
}

// attach sets the filter for the pool's and f.own's ports.
func (f *synFamily) attach() error {
	ports := slices.Concat(f.ports.ports, slices.Sorted(maps.Keys(f.own)))
	prog, err := bpf.Assemble(synTCPFilter(f.v6, ports))
	if err != nil {
		return err
	}
	return synAttach(f.tcp, prog)
}
