// Package clientaddr says which client an address belongs to, for the
// limits kept per client (connections, sockets, new identities, failed
// sign-ins): an IPv4 address is one client, and an IPv6 address counts
// with its whole /64, which one subscriber usually holds whole.
package clientaddr

import (
	"net/netip"
	"strings"
)

// Of is the client of addr ("1.2.3.4", "1.2.3.4:80", "2001:db8::1",
// "[2001:db8::1]:80", with or without a zone): an IPv4 address itself (an
// IPv4-mapped IPv6 address is that IPv4 address: a dual-stack listener sees
// IPv4 clients so), or an IPv6 address's /64 without its zone (a zone
// names the interface it came in on, not the client). Text that is not an
// address gives the zero Prefix: all such text is one client.
func Of(addr string) netip.Prefix {
	a, ok := parse(addr)
	if !ok {
		return netip.Prefix{}
	}
	return group(a)
}

// parse reads the address of addr, with or without a port and brackets.
func parse(addr string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(addr); err == nil {
		return ap.Addr(), true
	}
	a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(addr, "["), "]"))
	return a, err == nil
}

// Group is the client of a (see Of).
func Group(a netip.Addr) netip.Prefix { return group(a) }

func group(a netip.Addr) netip.Prefix {
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return netip.PrefixFrom(a, 32)
	}
	p, _ := a.Prefix(64) // cannot fail for IPv6; the zero Addr gives the zero Prefix
	return p
}

// Key is Of(addr) as a map key.
func Key(addr string) string { return Of(addr).String() }

// IsLoopback reports whether addr ("host" or "host:port") is a loopback
// address.
func IsLoopback(addr string) bool {
	a, ok := parse(addr)
	return ok && a.Unmap().IsLoopback()
}
