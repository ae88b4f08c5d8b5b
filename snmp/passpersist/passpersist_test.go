package passpersist

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"
)

var root = MustParseOID("1.3.6.1.4.1.32473.9960")

// fixture is a small table of two columns and two rows, added out of
// order, plus a scalar beside it; rows 2 and 10 prove the order is
// numeric, not textual.
func fixture(t *testing.T) *Tree {
	t.Helper()
	var b Builder
	b.Add(root.Append(1, 4, 1, 0), String("v1"))
	b.Add(root.Append(1, 2, 1, 3, 10), Gauge(7))
	b.Add(root.Append(1, 2, 1, 2, 2), String("b"))
	b.Add(root.Append(1, 2, 1, 3, 2), Gauge(5))
	b.Add(root.Append(1, 2, 1, 2, 10), String("j"))
	tree, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

func TestParseOID(t *testing.T) {
	for _, tc := range []struct {
		in, want, err string
	}{
		{in: ".1.3.6.1", want: ".1.3.6.1"},
		{in: "1.3.6.1", want: ".1.3.6.1"},
		{in: " .1.3 ", want: ".1.3"},
		{in: ".1.3.4294967295", want: ".1.3.4294967295"},
		{in: "", err: "empty"},
		{in: ".", err: "empty"},
		{in: ".1..3", err: `sub-identifier 2 ("")`},
		{in: ".1.x", err: `sub-identifier 2 ("x")`},
		{in: ".1.4294967296", err: "sub-identifier 2"},
		{in: ".1.-1", err: "sub-identifier 2"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			o, err := ParseOID(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("ParseOID(%q) = %v, %v; want error containing %q", tc.in, o, err, tc.err)
				}
				return
			}
			if err != nil || o.String() != tc.want {
				t.Fatalf("ParseOID(%q) = %v, %v; want %s", tc.in, o, err, tc.want)
			}
		})
	}
}

func TestCompare(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"1.3", "1.3", 0},
		{"1.3", "1.3.0", -1}, // a prefix first
		{"1.3.2", "1.3.10", -1},
		{"1.3.10", "1.3.2", 1},
		{"1.4", "1.3.6.1", 1},
		{"1.3.6.1.4.1.32473.9960.1.2.1.2.10", "1.3.6.1.4.1.32473.9960.1.2.1.3.2", -1}, // column before row
	} {
		if got := Compare(MustParseOID(tc.a), MustParseOID(tc.b)); got != tc.want {
			t.Errorf("Compare(%s, %s) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

// TestTreeNext walks getnext through columns and rows: a column is
// walked row by row, then the next column starts, then the next table.
func TestTreeNext(t *testing.T) {
	tree := fixture(t)
	for _, tc := range []struct {
		from, want string // want "" = end of MIB
	}{
		{"1.3", ".1.3.6.1.4.1.32473.9960.1.2.1.2.2"},                                 // before the root
		{"1.3.6.1.4.1.32473.9960", ".1.3.6.1.4.1.32473.9960.1.2.1.2.2"},              // the root
		{"1.3.6.1.4.1.32473.9960.1.2", ".1.3.6.1.4.1.32473.9960.1.2.1.2.2"},          // the table
		{"1.3.6.1.4.1.32473.9960.1.2.1.2.2", ".1.3.6.1.4.1.32473.9960.1.2.1.2.10"},   // next row, numerically
		{"1.3.6.1.4.1.32473.9960.1.2.1.2.3", ".1.3.6.1.4.1.32473.9960.1.2.1.2.10"},   // between rows
		{"1.3.6.1.4.1.32473.9960.1.2.1.2.10", ".1.3.6.1.4.1.32473.9960.1.2.1.3.2"},   // last row: next column
		{"1.3.6.1.4.1.32473.9960.1.2.1.2.10.5", ".1.3.6.1.4.1.32473.9960.1.2.1.3.2"}, // under a leaf
		{"1.3.6.1.4.1.32473.9960.1.2.1.3.10", ".1.3.6.1.4.1.32473.9960.1.4.1.0"},     // last cell: next table
		{"1.3.6.1.4.1.32473.9960.1.4.1.0", ""},                                       // end of MIB
		{"1.3.6.1.4.1.32473.9961", ""},                                               // after the root
	} {
		t.Run(tc.from, func(t *testing.T) {
			oid, _, ok := tree.Next(MustParseOID(tc.from))
			got := ""
			if ok {
				got = oid.String()
			}
			if got != tc.want {
				t.Errorf("Next(%s) = %q, want %q", tc.from, got, tc.want)
			}
		})
	}
}

func TestBuildRejectsDuplicates(t *testing.T) {
	var b Builder
	b.Add(root.Append(1), Integer(1))
	b.Add(root.Append(1), Integer(2))
	if _, err := b.Build(); err == nil || !strings.Contains(err.Error(), root.Append(1).String()) {
		t.Fatalf("Build with a duplicate OID: %v, want an error naming it", err)
	}
}

func TestValues(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    Value
		want Value
	}{
		{"integer", Integer(-3), Value{TypeInteger, "-3"}},
		{"gauge", Gauge(4294967295), Value{TypeGauge, "4294967295"}},
		{"counter64", Counter64(1<<63 + 5), Value{TypeCounter64, "9223372036854775813"}},
		{"ipv4", IPAddress(netip.MustParseAddr("192.0.2.1")), Value{TypeIPAddress, "192.0.2.1"}},
		{"mapped", IPAddress(netip.MustParseAddr("::ffff:192.0.2.1")), Value{TypeIPAddress, "192.0.2.1"}},
		{"ipv6 has no IpAddress", IPAddress(netip.MustParseAddr("2001:db8::1")), Value{TypeIPAddress, "0.0.0.0"}},
		{"text", String("tcp/192.0.2.1:80"), Value{TypeString, "tcp/192.0.2.1:80"}},
		{"empty", String(""), Value{TypeString, ""}},
		{"newline goes hex", String("a\nb"), Value{TypeOctet, "61 0a 62"}},
		{"utf-8 goes hex", String("é"), Value{TypeOctet, "c3 a9"}},
		{"trailing space goes hex", String("a "), Value{TypeOctet, "61 20"}},
		{"quote goes hex", String(`"a"`), Value{TypeOctet, "22 61 22"}},
		{"octets", Octets([]byte{192, 0, 2, 1}), Value{TypeOctet, "c0 00 02 01"}},
		{"oid", ObjectID(root), Value{TypeObjectID, ".1.3.6.1.4.1.32473.9960"}},
	} {
		if tc.v != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, tc.v, tc.want)
		}
	}
	if v := String(strings.Repeat("x", 300)); len(v.Text) != 255 {
		t.Errorf("a 300-byte string is sent as %d bytes, want the first 255", len(v.Text))
	}
}

type fixedSource struct {
	tree  *Tree
	err   error
	calls int
}

func (f *fixedSource) Tree(context.Context) (*Tree, error) {
	f.calls++
	return f.tree, f.err
}

// TestServe runs whole conversations as snmpd has them.
func TestServe(t *testing.T) {
	tree := fixture(t)
	for _, tc := range []struct {
		name    string
		src     Source
		in      string
		want    string
		wantErr string
	}{
		{name: "ping", src: &fixedSource{tree: tree}, in: "PING\n", want: "PONG\n"},
		{
			name: "get",
			src:  &fixedSource{tree: tree},
			in:   "get\n.1.3.6.1.4.1.32473.9960.1.2.1.3.10\nget\n.1.3.6.1.4.1.32473.9960.1.4.1.0\n",
			want: ".1.3.6.1.4.1.32473.9960.1.2.1.3.10\ngauge\n7\n.1.3.6.1.4.1.32473.9960.1.4.1.0\nstring\nv1\n",
		},
		{name: "get of a table is not an object", src: &fixedSource{tree: tree}, in: "get\n.1.3.6.1.4.1.32473.9960.1.2\n", want: "NONE\n"},
		{name: "get outside the root", src: &fixedSource{tree: tree}, in: "get\n.1.3.6.1.2.1.1.1.0\n", want: "NONE\n"},
		{name: "get of a bad OID", src: &fixedSource{tree: tree}, in: "get\nnot-an-oid\nPING\n", want: "NONE\nPONG\n"},
		{
			name: "walk",
			src:  &fixedSource{tree: tree},
			in: "getnext\n.1.3.6.1.4.1.32473.9960\ngetnext\n.1.3.6.1.4.1.32473.9960.1.2.1.2.2\ngetnext\n.1.3.6.1.4.1.32473.9960.1.2.1.2.10\n" +
				"getnext\n.1.3.6.1.4.1.32473.9960.1.2.1.3.2\ngetnext\n.1.3.6.1.4.1.32473.9960.1.2.1.3.10\ngetnext\n.1.3.6.1.4.1.32473.9960.1.4.1.0\n",
			want: ".1.3.6.1.4.1.32473.9960.1.2.1.2.2\nstring\nb\n" +
				".1.3.6.1.4.1.32473.9960.1.2.1.2.10\nstring\nj\n" +
				".1.3.6.1.4.1.32473.9960.1.2.1.3.2\ngauge\n5\n" +
				".1.3.6.1.4.1.32473.9960.1.2.1.3.10\ngauge\n7\n" +
				".1.3.6.1.4.1.32473.9960.1.4.1.0\nstring\nv1\n" +
				"NONE\n",
		},
		{name: "set is refused", src: &fixedSource{tree: tree}, in: "set\n.1.3.6.1.4.1.32473.9960.1.4.1.0\nstring x\nPING\n", want: "not-writable\nPONG\n"},
		{name: "source down", src: &fixedSource{err: errors.New("down")}, in: "getnext\n.1.3.6.1.4.1.32473.9960\nget\n.1.3.6.1.4.1.32473.9960.1.4.1.0\nPING\n", want: "NONE\nNONE\nPONG\n"},
		{name: "unknown command ignored", src: &fixedSource{tree: tree}, in: "frobnicate\nPING\n", want: "PONG\n"},
		{name: "CRLF and case", src: &fixedSource{tree: tree}, in: "ping\r\nGET\r\n.1.3.6.1.4.1.32473.9960.1.4.1.0\r\n", want: "PONG\n.1.3.6.1.4.1.32473.9960.1.4.1.0\nstring\nv1\n"},
		{name: "empty line ends", src: &fixedSource{tree: tree}, in: "PING\n\nPING\n", want: "PONG\n"},
		{name: "cut inside a request", src: &fixedSource{tree: tree}, in: "PING\nget\n", want: "PONG\n", wantErr: "inside a get request"},
		{name: "cut inside a set", src: &fixedSource{tree: tree}, in: "set\n.1.3\n", wantErr: "inside a set request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := Serve(context.Background(), strings.NewReader(tc.in), &out, root, tc.src, nil)
			if tc.wantErr == "" && err != nil {
				t.Fatalf("Serve: %v", err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("Serve: %v, want an error containing %q", err, tc.wantErr)
			}
			if out.String() != tc.want {
				t.Errorf("answers:\n%s\nwant:\n%s", out.String(), tc.want)
			}
		})
	}
}

// TestCache: one fetch per TTL, errors cached as well, a failure logged
// once and the recovery once.
func TestCache(t *testing.T) {
	now := time.Unix(1000, 0)
	src := &fixedSource{tree: fixture(t)}
	var log bytes.Buffer
	c := &Cache{Fetch: src.Tree, TTL: 2 * time.Second, Now: func() time.Time { return now },
		Logger: slog.New(slog.NewTextHandler(&log, nil))}
	ctx := context.Background()
	for range 100 {
		if tree, err := c.Tree(ctx); err != nil || tree.Len() != 5 {
			t.Fatalf("Tree: %v objects, %v", tree.Len(), err)
		}
	}
	if src.calls != 1 {
		t.Errorf("100 requests within the TTL fetched %d times, want 1", src.calls)
	}
	now = now.Add(2 * time.Second)
	src.tree, src.err = nil, errors.New("connection refused")
	for range 3 {
		if _, err := c.Tree(ctx); err == nil {
			t.Fatal("no error while the source is down")
		}
		now = now.Add(time.Second)
	}
	// 3 requests over 3 s with a 2 s TTL: 2 fetches.
	if src.calls != 3 {
		t.Errorf("fetches after the failure: %d, want 3 in all", src.calls)
	}
	if n := strings.Count(log.String(), "connection refused"); n != 1 {
		t.Errorf("the failure was logged %d times, want once:\n%s", n, log.String())
	}
	src.tree, src.err = fixture(t), nil
	now = now.Add(2 * time.Second)
	if _, err := c.Tree(ctx); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "can be read again") {
		t.Errorf("the recovery is not logged:\n%s", log.String())
	}
}
