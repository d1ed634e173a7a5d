package richcontent

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// linkCard has two links (one with metadata), a link to javascript: (not
// a link), and an answer.
const linkCard = `{"type":"vertical","elements":[
	{"type":"button","title":"Docs","click":{"actions":[{"type":"link","uri":"https://docs.example/"}]}},
	{"type":"button","title":"Evil","click":{"actions":[{"type":"link","uri":"javascript:alert(1)"}]}},
	{"type":"horizontal","elements":[
		{"type":"button","title":"Track","click":{"actions":[{"type":"link","uri":"https://track.example/1"}],"metadata":[{"type":"ExternalId","id":"track"}]}},
		{"type":"button","title":"Gold","click":{"actions":[{"type":"publishText","text":"gold"}],"metadata":[{"type":"ExternalId","id":"gold"}]}}]}]}`

// TestParseLinks: a card's links are listed in document order with their
// click's metadata, each link node naming its index.
func TestParseLinks(t *testing.T) {
	c := Parse(json.RawMessage(linkCard), nil)
	want := []Link{
		{URL: "https://docs.example/"},
		{URL: "https://track.example/1", Metadata: json.RawMessage(`[{"id":"track","type":"ExternalId"}]`)},
	}
	if diff := cmp.Diff(want, c.Links); diff != "" {
		t.Errorf("links (-want +got):\n%s", diff)
	}
	var nodes []Node
	var walk func(n Node)
	walk = func(n Node) {
		if n.Kind == KindLink {
			nodes = append(nodes, Node{Kind: n.Kind, Text: n.Text, URL: n.URL, Choice: n.Choice, Link: n.Link})
		}
		for _, ch := range n.Children {
			walk(ch)
		}
	}
	walk(*c.Card)
	wantNodes := []Node{
		{Kind: KindLink, Text: "Docs", URL: "https://docs.example/", Choice: -1, Link: 0},
		{Kind: KindLink, Text: "Track", URL: "https://track.example/1", Choice: -1, Link: 1},
	}
	if diff := cmp.Diff(wantNodes, nodes); diff != "" {
		t.Errorf("link nodes (-want +got):\n%s", diff)
	}
}

// TestLinkClick: an ACTION with a link's metadata, or with none when a
// link has none, may be that link's click; an answer's metadata is not.
func TestLinkClick(t *testing.T) {
	withLinks := Parse(json.RawMessage(linkCard), nil)
	noBareLink := Parse(json.RawMessage(`{"type":"vertical","elements":[
		{"type":"button","title":"Track","click":{"actions":[{"type":"link","uri":"https://track.example/1"}],"metadata":[{"type":"ExternalId","id":"track"}]}},
		{"type":"button","title":"Gold","click":{"actions":[{"type":"publishText","text":"gold"}]}}]}`), nil)
	noLinks := Parse(json.RawMessage(`{"type":"vertical","elements":[{"type":"button","title":"Gold","click":{"actions":[{"type":"publishText","text":"gold"}]}}]}`), nil)
	tests := []struct {
		name     string
		c        Content
		metadata string
		want     bool
	}{
		{"a link's metadata", withLinks, `[{"id":"track","type":"ExternalId"}]`, true},
		{"another spelling of it", withLinks, ` {"type" : "ExternalId", "id":"track"} `, true},
		{"none, and a link has none", withLinks, ``, true},
		{"null, and a link has none", withLinks, `null`, true},
		{"an answer's metadata", withLinks, `[{"id":"gold","type":"ExternalId"}]`, false},
		{"unknown metadata", withLinks, `[{"id":"platinum","type":"ExternalId"}]`, false},
		{"none, and every link has some", noBareLink, ``, false},
		{"no links", noLinks, ``, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.c.LinkClick(json.RawMessage(tt.metadata)); got != tt.want {
				t.Errorf("LinkClick(%s) = %v, want %v", tt.metadata, got, tt.want)
			}
		})
	}
}
