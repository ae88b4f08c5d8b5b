package passpersist

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Cache is a Source that calls Fetch at most once per TTL, so that a walk
// of the whole subtree (one getnext per object) costs one fetch. A failed
// fetch is cached for TTL too: with the data source down, a walk gets NONE
// at once instead of waiting out one timeout per object. The first failure
// is logged, then only a different error and the recovery.
type Cache struct {
	// Fetch builds a fresh tree; it must honour ctx.
	Fetch func(ctx context.Context) (*Tree, error)
	// TTL is how long a fetch's result answers requests.
	TTL time.Duration
	// Logger gets the fetch failures; nil: none logged.
	Logger *slog.Logger
	// Now is time.Now unless a test sets it.
	Now func() time.Time

	mu      sync.Mutex
	tree    *Tree
	err     error
	at      time.Time
	fetched bool
	lastErr string // the error last logged, "" while fetches succeed
}

// Tree implements Source.
func (c *Cache) Tree(ctx context.Context) (*Tree, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	if c.fetched && now().Sub(c.at) < c.TTL {
		return c.tree, c.err
	}
	c.tree, c.err = c.Fetch(ctx)
	c.at, c.fetched = now(), true
	c.logChange()
	return c.tree, c.err
}

func (c *Cache) logChange() {
	if c.Logger == nil {
		return
	}
	switch {
	case c.err != nil && c.err.Error() != c.lastErr:
		c.lastErr = c.err.Error()
		c.Logger.Error("cannot read the objects: answering NONE (no such object) until they can be read", "err", c.err)
	case c.err == nil && c.lastErr != "":
		c.lastErr = ""
		c.Logger.Info("the objects can be read again", "objects", c.tree.Len())
	}
}
