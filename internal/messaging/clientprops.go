package messaging

import (
	"regexp"
	"strings"

	"github.com/chatwindow/chatwindow/internal/protocol"
)

// BrowserClientProperties are the client properties of a web window whose
// customer's browser sent userAgent: its device family, operating system
// and browser, as the Client Properties tutorial's header describes them
// (schema/infra/clientPropertiesHeader.json: deviceFamily DESKTOP, TABLET,
// MOBILE or OTHER; os WINDOWS, LINUX, OSX, ANDROID, IOS or OTHER; browser
// and versions free text of at most 64 characters). An empty userAgent
// gives DefaultClientProperties.
func BrowserClientProperties(userAgent string) *protocol.Header {
	p := DefaultClientProperties()
	ua := strings.TrimSpace(userAgent)
	if ua == "" {
		return p
	}
	p.OS, p.OSVersion = uaOS(ua)
	p.DeviceFamily = uaDevice(ua, p.OS)
	p.Browser, p.BrowserVersion = uaBrowser(ua)
	return p
}

var (
	reWindows = regexp.MustCompile(`Windows NT ([0-9.]+)`)
	reIOS     = regexp.MustCompile(`(?:iPhone )?OS ([0-9_]+) like Mac OS X`)
	reAndroid = regexp.MustCompile(`Android ([0-9.]+)`)
	reMac     = regexp.MustCompile(`Mac OS X ([0-9_.]+)`)
)

// uaOS is the operating system a user agent names, and its version.
func uaOS(ua string) (os, version string) {
	switch {
	case strings.Contains(ua, "Windows"):
		return "WINDOWS", first(reWindows, ua)
	case strings.Contains(ua, "iPhone") || strings.Contains(ua, "iPad") || strings.Contains(ua, "iPod"):
		return "IOS", strings.ReplaceAll(first(reIOS, ua), "_", ".")
	case strings.Contains(ua, "Android"):
		return "ANDROID", first(reAndroid, ua)
	case strings.Contains(ua, "Macintosh") || strings.Contains(ua, "Mac OS X"):
		return "OSX", strings.ReplaceAll(first(reMac, ua), "_", ".")
	case strings.Contains(ua, "Linux") || strings.Contains(ua, "X11") || strings.Contains(ua, "CrOS"):
		return "LINUX", ""
	}
	return "OTHER", ""
}

// uaDevice is the device family: tablets (iPads, Android without
// "Mobile"), phones ("Mobi"), else desktops.
func uaDevice(ua, os string) string {
	switch {
	case strings.Contains(ua, "iPad") || strings.Contains(ua, "Tablet") || (os == "ANDROID" && !strings.Contains(ua, "Mobile")):
		return "TABLET"
	case strings.Contains(ua, "Mobi") || strings.Contains(ua, "iPhone") || strings.Contains(ua, "iPod"):
		return "MOBILE"
	case os == "OTHER":
		return "OTHER"
	}
	return "DESKTOP"
}

// uaBrowsers are the browsers recognised, by the product token that names
// each in a user agent; the first that matches wins (Edge and Opera say
// Chrome too, Chrome says Safari).
var uaBrowsers = []struct {
	name string
	re   *regexp.Regexp
}{
	{"EDGE", regexp.MustCompile(`Edg(?:e|A|iOS)?/([0-9.]+)`)},
	{"OPERA", regexp.MustCompile(`(?:OPR|Opera)/([0-9.]+)`)},
	{"SAMSUNG", regexp.MustCompile(`SamsungBrowser/([0-9.]+)`)},
	{"FIREFOX", regexp.MustCompile(`(?:Firefox|FxiOS)/([0-9.]+)`)},
	{"CHROME", regexp.MustCompile(`(?:Chrome|CriOS|HeadlessChrome|Chromium)/([0-9.]+)`)},
	{"MOBILE_SAFARI", regexp.MustCompile(`Version/([0-9.]+) Mobile/\S+ Safari/`)},
	{"SAFARI", regexp.MustCompile(`Version/([0-9.]+).* Safari/`)},
}

// uaBrowser is the browser a user agent names, and its version.
func uaBrowser(ua string) (name, version string) {
	for _, b := range uaBrowsers {
		if m := b.re.FindStringSubmatch(ua); m != nil {
			return b.name, clip(m[1])
		}
	}
	return "OTHER", ""
}

func first(re *regexp.Regexp, s string) string {
	if m := re.FindStringSubmatch(s); m != nil {
		return clip(m[1])
	}
	return ""
}

// clip keeps a value within the schema's 64 characters.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64]
	}
	return s
}
