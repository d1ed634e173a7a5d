package desks

import (
	"context"
	"slices"

	"github.com/chatwindow/chatwindow/internal/live"
)

// transfer hands the agent's open conversation over to the agents of
// skill (one of Config.Skills), or back to its skill's queue when skill is
// empty: the agent leaves, and the conversation is routed again
// (docs/console.md, Transfer). The conversation leaves the agent's list
// when its metadata says the agent left.
func (d *Desk) transfer(tab *live.Tab[page], conv, skill string) {
	t, ok := d.target(tab, conv)
	if !ok {
		return
	}
	if skill != "" && !slices.Contains(d.cfg.Skills, skill) {
		d.logRefused("transfer refused: unknown skill", "conversation_id", t.ID, "skill", skill)
		return
	}
	id := t.ID
	d.loop.Request(func(ctx context.Context) error {
		if skill == "" {
			return d.up.BackToQueue(ctx, id)
		}
		return d.up.TransferToSkill(ctx, id, skill)
	}, func(err error) {
		if err != nil {
			d.log.Warn("transfer", "conversation_id", id, "skill", skill, "error", err)
			d.broadcast(id, Change{Announce: "The conversation could not be transferred. Please try again."})
			return
		}
		d.log.Info("conversation transferred", "conversation_id", id, "skill", skill)
		say := "The conversation is back in the queue."
		if skill != "" {
			say = "The conversation was transferred to skill " + skill + "."
		}
		d.broadcast("", Change{Announce: say})
	})
}
