package outbox

import "testing"

func TestOutbox(t *testing.T) {
	o := New(2)
	if _, ended := o.Reason(); ended {
		t.Fatal("a new outbox has ended")
	}
	if !o.Offer([]byte("a")) || !o.Offer([]byte("b")) {
		t.Fatal("an outbox with room refused a frame")
	}
	if o.Offer([]byte("c")) {
		t.Fatal("a full outbox took a frame")
	}
	o.End(Slow)
	o.End(Detached) // only the first counts
	if r, ended := o.Reason(); !ended || r != Slow {
		t.Errorf("Reason = %v, %v; want Slow, true", r, ended)
	}
	select {
	case <-o.Done():
	default:
		t.Error("Done is open after End")
	}
	if got := string(<-o.Out()) + string(<-o.Out()); got != "ab" {
		t.Errorf("frames %q, want in order ab", got)
	}
}
