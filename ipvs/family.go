package ipvs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/mdlayher/genetlink"
	"golang.org/x/sys/unix"
)

// resolveFamily asks the generic-netlink controller for the ID of the
// "IPVS" family. The ID is assigned when ip_vs registers and changes when the
// module is unloaded and loaded again, so callers cache it only until the
// next error. A missing family is ErrModuleNotLoaded.
func resolveFamily(c *genetlink.Conn) (uint16, error) {
	f, err := c.GetFamily(genlFamilyName)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return 0, fmt.Errorf("resolve generic-netlink family %q: %w", genlFamilyName, ErrModuleNotLoaded)
		}
		return 0, fmt.Errorf("resolve generic-netlink family %q: %w", genlFamilyName, kernelErr(err))
	}
	if f.ID == 0 {
		return 0, fmt.Errorf("resolve generic-netlink family %q: the kernel answered family ID 0", genlFamilyName)
	}
	return f.ID, nil
}

// familyProbe resolves the family on a socket it keeps between calls and
// replaces after an error that may leave unread replies behind.
type familyProbe struct {
	dial func() (*genetlink.Conn, error)
	c    *genetlink.Conn
}

// probe returns the current "IPVS" family ID, bounded by deadline.
func (p *familyProbe) probe(deadline time.Time) (uint16, error) {
	if p.c == nil {
		c, err := p.dial()
		if err != nil {
			return 0, fmt.Errorf("open generic-netlink socket: %w", kernelErr(err))
		}
		p.c = c
	}
	_ = p.c.SetDeadline(deadline)
	id, err := resolveFamily(p.c)
	if err != nil && !errors.Is(err, ErrModuleNotLoaded) {
		_ = p.close()
	}
	return id, err
}

func (p *familyProbe) close() error {
	if p.c == nil {
		return nil
	}
	err := p.c.Close()
	p.c = nil
	return err
}

// kernelErr adds the sentinel callers branch on to an error of a netlink
// exchange: ErrPermission for EPERM/EACCES, ErrTimeout for a passed
// deadline. The original error stays in the chain.
func kernelErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrPermission), errors.Is(err, ErrTimeout), errors.Is(err, ErrModuleNotLoaded):
		return err
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		return fmt.Errorf("%w: %w", ErrPermission, err)
	case isTimeout(err):
		return fmt.Errorf("%w: %w", ErrTimeout, err)
	}
	return err
}

func isTimeout(err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// ctxErr turns a timeout caused by a cancelled (not expired) context into
// that cancellation, so callers can tell "shutting down" from "kernel slow".
func ctxErr(ctx context.Context, err error) error {
	if err != nil && errors.Is(err, ErrTimeout) && errors.Is(ctx.Err(), context.Canceled) {
		return fmt.Errorf("%w (%w)", context.Canceled, err)
	}
	return err
}
