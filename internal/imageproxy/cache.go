package imageproxy

import (
	"container/list"
	"sync"
	"time"
)

// cache keeps the images fetched last, by URL, bounded by their total size
// (the least recently used go first) and by age. A card's image is asked
// for by every tab that shows the card, and again on every reload: one
// fetch serves them all for a while. A failed fetch is kept too, shortly,
// so that a broken or oversize image is not fetched again on every view.
type cache struct {
	max    int64
	ttl    time.Duration
	errTTL time.Duration
	now    func() time.Time

	mu    sync.Mutex
	size  int64
	order *list.List // of *entry, the most recently used first
	byURL map[string]*list.Element
}

type entry struct {
	url     string
	img     Image
	err     error
	size    int64
	expires time.Time
}

// errorSize is what a kept failure counts for (its URL and error).
const errorSize = 4 << 10

func newCache(max int64, ttl, errTTL time.Duration, now func() time.Time) *cache {
	return &cache{max: max, ttl: ttl, errTTL: errTTL, now: now, order: list.New(), byURL: map[string]*list.Element{}}
}

// get returns what the fetch of u gave (an image or an error) if it is
// kept and young enough.
func (c *cache) get(u string) (Image, error, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byURL[u]
	if !ok {
		return Image{}, nil, false
	}
	e := el.Value.(*entry)
	if !c.now().Before(e.expires) {
		c.remove(el)
		return Image{}, nil, false
	}
	c.order.MoveToFront(el)
	return e.img, e.err, true
}

// put keeps what the fetch of u gave, making room by dropping the least
// recently used. An image larger than an eighth of the cache is not kept:
// a few large images would otherwise flush everything else.
func (c *cache) put(u string, img Image, err error) {
	n, ttl := int64(len(img.Body)), c.ttl
	if err != nil {
		n, ttl, img = errorSize, c.errTTL, Image{}
	}
	if c.max <= 0 || n > c.max/8 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byURL[u]; ok {
		c.remove(el)
	}
	for c.size+n > c.max {
		c.remove(c.order.Back())
	}
	c.byURL[u] = c.order.PushFront(&entry{url: u, img: img, err: err, size: n, expires: c.now().Add(ttl)})
	c.size += n
}

// remove drops el; c.mu is held.
func (c *cache) remove(el *list.Element) {
	e := c.order.Remove(el).(*entry)
	delete(c.byURL, e.url)
	c.size -= e.size
}
