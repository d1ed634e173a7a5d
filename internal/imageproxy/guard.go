package imageproxy

import (
	"fmt"
	"net/netip"
	"syscall"
)

// PublicAddr reports whether a is an address of the public internet: not
// loopback, private, link-local, unspecified, multicast, broadcast, shared
// (carrier-grade NAT), reserved, documentation or benchmarking, nor an
// IPv6 prefix that embeds or translates to IPv4 (NAT64, 6to4, Teredo),
// since those could lead back into a private network.
func PublicAddr(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || !a.IsGlobalUnicast() || a.IsPrivate() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// nonPublic are the special-purpose ranges IsGlobalUnicast and IsPrivate
// let through (the IANA special-purpose address registries).
var nonPublic = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8",       // "this network"
		"100.64.0.0/10",   // shared address space (carrier-grade NAT)
		"192.0.0.0/24",    // IETF protocol assignments
		"192.0.2.0/24",    // documentation
		"192.88.99.0/24",  // 6to4 relay anycast
		"198.18.0.0/15",   // benchmarking
		"198.51.100.0/24", // documentation
		"203.0.113.0/24",  // documentation
		"240.0.0.0/4",     // reserved
		"::/96",           // IPv4-compatible
		"::ffff:0:0/96",   // IPv4-mapped (unmapped above; kept for safety)
		"64:ff9b::/96",    // NAT64
		"64:ff9b:1::/48",  // local NAT64
		"100::/64",        // discard
		"2001::/23",       // IETF protocol assignments (Teredo among them)
		"2001:db8::/32",   // documentation
		"2002::/16",       // 6to4
		"3fff::/20",       // documentation
		"5f00::/16",       // segment routing
		"fec0::/10",       // site-local (deprecated)
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

// dialGuard is a net.Dialer's Control: it runs once the name is resolved,
// for each address the dialer is about to connect to, so the address
// checked is the one connected to (a name that resolves to a public
// address once and a private one the next time gains nothing).
func dialGuard(allow func(netip.AddrPort) bool) func(network, address string, _ syscall.RawConn) error {
	return func(network, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("%w: %s address %q", ErrRefused, network, address)
		}
		if !allow(ap) {
			return fmt.Errorf("%w: %s is not a public address", ErrRefused, ap.Addr())
		}
		return nil
	}
}

// allowPublic is the guard by default: public addresses only, any port.
func allowPublic(ap netip.AddrPort) bool { return PublicAddr(ap.Addr()) }
