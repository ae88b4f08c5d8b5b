package ipvs

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/mdlayher/genetlink"
	"golang.org/x/sys/unix"
)

// resolveFamily finds the ID of the "IPVS" generic-netlink family. The ID
// is assigned when ip_vs registers and changes when the module is unloaded
// and loaded again, so callers cache it only until the next error. A
// missing family is ErrModuleNotLoaded.
//
// It lists the families instead of asking for "IPVS" by name: for a name it
// does not know, the kernel's controller runs request_module, so a lookup by
// name loads ip_vs (and nf_conntrack with it) on any host that has the
// module installed. An exporter must not change the kernel it watches.
func resolveFamily(c *genetlink.Conn) (uint16, error) {
	families, err := c.ListFamilies()
	if err != nil {
		return 0, fmt.Errorf("list generic-netlink families: %w", kernelErr(err))
	}
	for _, f := range families {
		if f.Name != genlFamilyName {
			continue
		}
		if f.ID == 0 {
			return 0, fmt.Errorf("generic-netlink family %q has ID 0", genlFamilyName)
		}
		return f.ID, nil
	}
	return 0, fmt.Errorf("no generic-netlink family %q: %w", genlFamilyName, ErrModuleNotLoaded)
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
