package config

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// addSeeds adds every file matching the patterns to the fuzz corpus.
func addSeeds(f *testing.F, patterns ...string) {
	f.Helper()
	n := 0
	for _, p := range patterns {
		files, err := filepath.Glob(p)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
			n++
		}
	}
	if n == 0 {
		f.Fatalf("no seed files match %v", patterns)
	}
}

// checkErrors fails unless err is a non-empty Errors whose problems all name
// file.
func checkErrors(t *testing.T, err error, file string) {
	t.Helper()
	var list Errors
	if !errors.As(err, &list) || len(list) == 0 {
		t.Fatalf("error is %T, not a non-empty Errors: %v", err, err)
	}
	for _, e := range list {
		if e.File != file || e.Msg == "" {
			t.Fatalf("problem without file or message: %#v", e)
		}
	}
}

// FuzzParse: the loader never panics, every rejection is a list of
// problems naming the file, and every accepted config survives Marshal and
// Parse unchanged (so it re-validates). Seeds: testdata/valid and
// testdata/invalid, plus the crashers go test -fuzz saves in
// testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	addSeeds(f, "testdata/valid/*.yml", "testdata/invalid/*.yml")
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, "fuzz.yml")
		if err != nil {
			if c != nil {
				t.Fatal("Parse returned a config and an error")
			}
			checkErrors(t, err, "fuzz.yml")
			return
		}
		roundTrip(t, c)
	})
}

// FuzzImportIpvsadm: the importer and ParseIpvsadm never panic,
// rejections are line-numbered problems, every accepted dump gives a
// config that Parse accepts unchanged, and a dump the importer accepts
// ParseIpvsadm reads into as many services. Seeds: testdata/ipvsadm and
// the error table's lines.
func FuzzImportIpvsadm(f *testing.F) {
	addSeeds(f, "testdata/ipvsadm/*.rules")
	for _, line := range []string{
		"-A -t 192.0.2.1:80 -s wrr -p 300 -M 255.255.255.255\n-a -t 192.0.2.1:80 -r 10.0.0.1:80 -m -w 2 -x 100 -y 10\n",
		"-A -f 42 -6 -s rr\n-a -f 42 -6 -r [2001:db8::1]:0 -g -w 1\n",
		"-A --sctp-service [2001:db8::1]:3868 -s lc\n-a --sctp-service [2001:db8::1]:3868 -r 10.0.0.1:3868 -i --tun-type ipip\n",
		"ipvsadm --add-service --udp-service=192.0.2.1:53 --persistent\n",
		"-A -t 192.0.2.1:0 -p\n-a -t 192.0.2.1:0 -r 10.0.0.1 -m\n",
	} {
		f.Add([]byte(line))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		table, perr := ParseIpvsadm(bytes.NewReader(data), "fuzz.rules")
		if perr != nil {
			if table != nil {
				t.Fatal("ParseIpvsadm returned a table and an error")
			}
			checkErrors(t, perr, "fuzz.rules")
		}
		c, err := ImportIpvsadm(bytes.NewReader(data), "fuzz.rules")
		if err == nil && (perr != nil || len(table) != len(c.Services)) {
			t.Fatalf("the import took the dump into %d services, ParseIpvsadm into %d (%v)", len(c.Services), len(table), perr)
		}
		if err != nil {
			if strings.Contains(err.Error(), "please report") {
				t.Fatalf("import accepted a dump it cannot write as a valid config: %v", err)
			}
			if c != nil {
				t.Fatal("ImportIpvsadm returned a config and an error")
			}
			checkErrors(t, err, "fuzz.rules")
			return
		}
		roundTrip(t, c)
	})
}

// roundTrip fails unless Parse(Marshal(c)) equals c, but for the Source
// Load records (the marshalled bytes are another file).
func roundTrip(t *testing.T, c *Config) {
	t.Helper()
	loaded := *c
	loaded.Source = Source{}
	c = &loaded
	out, err := Marshal(c)
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	again, err := Parse(out, "again.yml")
	if err != nil {
		t.Fatalf("accepted config does not re-validate after Marshal: %v\n%s", err, out)
	}
	if !reflect.DeepEqual(c, again) {
		t.Fatalf("config changed in Marshal and Parse:\n%s\nbefore: %+v\nafter:  %+v", out, c, again)
	}
}
