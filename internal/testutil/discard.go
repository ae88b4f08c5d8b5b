package testutil

import "net/http"

// DiscardResponse is an http.ResponseWriter that counts the body and
// discards it: what scrape benchmarks serve into, so that only the
// handler's work is measured. Reset readies it for the next request.
type DiscardResponse struct {
	H http.Header
	N int // bytes of the body written since Reset
}

// NewDiscardResponse returns an empty DiscardResponse.
func NewDiscardResponse() *DiscardResponse { return &DiscardResponse{H: http.Header{}} }

func (w *DiscardResponse) Header() http.Header { return w.H }
func (w *DiscardResponse) WriteHeader(int)     {}
func (w *DiscardResponse) Write(p []byte) (int, error) {
	w.N += len(p)
	return len(p), nil
}

// Reset clears the headers and the count.
func (w *DiscardResponse) Reset() {
	clear(w.H)
	w.N = 0
}
