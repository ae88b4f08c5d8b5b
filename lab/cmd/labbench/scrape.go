package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// scraper fetches one exporter's metrics over a kept-alive connection, as
// Prometheus does, and counts the bytes on the wire (the body as sent:
// compressed when the exporter compressed it).
type scraper struct {
	url    string
	client *http.Client
}

func newScraper(url string) *scraper {
	return &scraper{url: url, client: &http.Client{
		Timeout: 2 * time.Minute,
		// Not decompressed: the body counted is the one sent.
		Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 1},
	}}
}

// scrape is one fetch: its body (when keep is set), its size and the
// encoding the exporter chose.
type scrape struct {
	body     []byte
	bytes    int64
	encoding string
}

func (s *scraper) get(ctx context.Context, gzip, keep bool) (scrape, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return scrape{}, err
	}
	if gzip {
		req.Header.Set("Accept-Encoding", "gzip")
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return scrape{}, err
	}
	defer resp.Body.Close()
	var out scrape
	var buf bytes.Buffer
	w := io.Discard
	if keep {
		w = &buf
	}
	if out.bytes, err = io.Copy(w, resp.Body); err != nil {
		return scrape{}, fmt.Errorf("read %s: %w", s.url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return scrape{}, fmt.Errorf("GET %s: %s", s.url, resp.Status)
	}
	out.body = buf.Bytes()
	out.encoding = resp.Header.Get("Content-Encoding")
	if out.encoding == "" {
		out.encoding = "identity"
	}
	return out, nil
}

// sumMetric adds the values of every sample of metric name in exposition
// text b (no other metric whose name starts with name counts).
func sumMetric(b []byte, name string) (float64, int, error) {
	return sumMetricWith(b, name, "")
}

// sumMetricWith is sumMetric over the samples whose label set has pair
// (`state="up"`, as the exporter writes it); every sample when pair is
// empty.
func sumMetricWith(b []byte, name, pair string) (float64, int, error) {
	var sum float64
	n := 0
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.HasPrefix(line, []byte(name)) {
			continue
		}
		rest := line[len(name):]
		if len(rest) == 0 || (rest[0] != '{' && rest[0] != ' ') {
			continue
		}
		if rest[0] == '{' {
			end := bytes.LastIndexByte(rest, '}')
			if end < 0 {
				return 0, 0, fmt.Errorf("sample %q: no closing brace", line)
			}
			if pair != "" && !hasPair(rest[1:end], pair) {
				continue
			}
			rest = rest[end+1:]
		} else if pair != "" {
			continue
		}
		f := strings.Fields(string(rest))
		if len(f) == 0 {
			return 0, 0, fmt.Errorf("sample %q: no value", line)
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return 0, 0, fmt.Errorf("sample %q: %w", line, err)
		}
		sum += v
		n++
	}
	return sum, n, sc.Err()
}

// hasPair reports whether the inside of a label set has pair (name="value"),
// whole: at the start or after a comma, so that another label whose name
// ends in pair's does not count. A value's quotes are escaped, so pair
// cannot match inside one.
func hasPair(labels []byte, pair string) bool {
	return bytes.HasPrefix(labels, []byte(pair)) || bytes.Contains(labels, []byte(","+pair))
}

// sample is the value of the one sample whose line starts with series (a
// name with its labels, as the exporter writes them) in exposition text b.
func sample(b []byte, series string) (float64, bool) {
	for _, line := range bytes.Split(b, []byte("\n")) {
		rest, ok := bytes.CutPrefix(line, []byte(series+" "))
		if !ok {
			continue
		}
		f := strings.Fields(string(rest))
		if len(f) == 0 {
			return 0, false
		}
		v, err := strconv.ParseFloat(f[0], 64)
		return v, err == nil
	}
	return 0, false
}
