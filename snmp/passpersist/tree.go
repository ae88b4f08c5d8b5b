package passpersist

import (
	"fmt"
	"slices"
)

// Tree is an immutable set of objects sorted by OID, the answer to every
// get and getnext until the next one replaces it.
type Tree struct {
	oids   []OID
	values []Value
}

// Builder collects the objects of a Tree in any order.
type Builder struct {
	entries []entry
}

type entry struct {
	oid OID
	v   Value
}

// Add adds the object oid with value v.
func (b *Builder) Add(oid OID, v Value) {
	b.entries = append(b.entries, entry{oid, v})
}

// Build sorts the objects; two objects with one OID are an error (a bug of
// the caller's index assignment, which must not shadow a row).
func (b *Builder) Build() (*Tree, error) {
	es := slices.Clone(b.entries)
	slices.SortFunc(es, func(x, y entry) int { return Compare(x.oid, y.oid) })
	t := &Tree{oids: make([]OID, len(es)), values: make([]Value, len(es))}
	for i, e := range es {
		if i > 0 && Compare(es[i-1].oid, e.oid) == 0 {
			return nil, fmt.Errorf("build tree: two objects with OID %s", e.oid)
		}
		t.oids[i], t.values[i] = e.oid, e.v
	}
	return t, nil
}

// Len is the number of objects.
func (t *Tree) Len() int {
	if t == nil {
		return 0
	}
	return len(t.oids)
}

// Get returns the object oid.
func (t *Tree) Get(oid OID) (Value, bool) {
	if t == nil {
		return Value{}, false
	}
	i, found := slices.BinarySearchFunc(t.oids, oid, Compare)
	if !found {
		return Value{}, false
	}
	return t.values[i], true
}

// Next returns the first object after oid in OID order (getnext): oid
// need not exist, and a prefix of objects (a table, a column) gives the
// first object under it. ok is false past the last object.
func (t *Tree) Next(oid OID) (next OID, v Value, ok bool) {
	if t == nil {
		return nil, Value{}, false
	}
	i, found := slices.BinarySearchFunc(t.oids, oid, Compare)
	if found {
		i++
	}
	if i >= len(t.oids) {
		return nil, Value{}, false
	}
	return t.oids[i], t.values[i], true
}
