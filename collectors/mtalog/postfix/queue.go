package postfix

import (
	"bytes"

	"github.com/mailscope/mailscope/collectors/mtalog/event"
)

// parseCleanup follows cleanup/cleanup_message.c ("QUEUEID: message-id=<>",
// header/body check actions: "QUEUEID: reject: header Subject: x from
// host[addr]; from=<> to=<> proto=ESMTP helo=<h>: 5.7.1 text") and
// cleanup/cleanup_milter.c ("QUEUEID: milter-reject: END-OF-MESSAGE from
// host[addr]: 5.7.1 text; from=<> to=<> proto=ESMTP helo=<h>").
func parseCleanup(msg []byte, ev *event.Event) bool {
	id, rest, ok := queueID(msg)
	if !ok {
		return false
	}
	ev.QueueID = id
	if len(rest) >= len("message-id=") && string(rest[:len("message-id=")]) == "message-id=" {
		ev.Kind = event.KindMessageID
		ev.MessageID = messageID(rest[len("message-id="):])
		return true
	}
	if _, ok := trimPrefix(rest, "resent-message-id="); ok {
		ev.Kind = event.KindMessageID
		return true
	}
	if r, ok := trimPrefix(rest, "milter-"); ok {
		if parseRejectLine(r, ev) || parseRejectLine(rest, ev) {
			ev.Kind = event.KindContentAction
			return true
		}
		return false
	}
	return parseContentAction(rest, ev)
}

// contentActions are cleanup's header/body check action words
// (cleanup_message.c cleanup_act).
var contentActions = [...]actionWord{
	{"reject: ", event.ActionReject},
	{"discard: ", event.ActionDiscard},
	{"hold: ", event.ActionHold},
	{"redirect: ", event.ActionRedirect},
	{"filter: ", event.ActionFilter},
	{"warning: ", event.ActionWarn},
	{"replace: ", event.ActionReplace},
	{"prepend: ", event.ActionPrepend},
	{"info: ", event.ActionInfo},
	{"bcc: ", event.ActionInfo},
	{"strip: ", event.ActionReplace},
}

func parseContentAction(rest []byte, ev *event.Event) bool {
	action, rest := leadingAction(rest, contentActions[:])
	if action == event.ActionNone {
		return false
	}
	// "header NAME: VALUE from host[addr]; from=<> to=<> proto=P helo=<h>[: TEXT]"
	if _, ok := trimPrefix(rest, "header "); !ok {
		if _, ok := trimPrefix(rest, "body "); !ok {
			if _, ok := trimPrefix(rest, "END-OF-MESSAGE "); !ok {
				return false
			}
		}
	}
	ev.Kind = event.KindContentAction
	ev.Action = action
	if i := lastIndex(rest, " helo=<"); i >= 0 {
		tail := rest[i+len(" helo=<"):]
		if j := bytes.Index(tail, []byte(">: ")); j >= 0 {
			ev.Code, ev.DSN, ev.Text = reply(tail[j+3:])
		}
	}
	return true
}

// parseQmgr follows qmgr/qmgr_active.c and qmgr_message.c: "QUEUEID:
// from=<s>, size=N, nrcpt=N (queue active)", "QUEUEID: removed",
// "QUEUEID: from=<s>, status=expired, returned to sender", "QUEUEID:
// skipped, still being delivered", and delivery lines qmgr logs itself
// (global/log_adhoc.c) for mail it defers or bounces without a transport.
func parseQmgr(msg []byte, ev *event.Event) bool {
	id, rest, ok := queueID(msg)
	if !ok {
		return false
	}
	ev.QueueID = id
	switch {
	case string(rest) == "removed":
		ev.Kind = event.KindRemoved
		return true
	case len(rest) >= len("to=<") && string(rest[:len("to=<")]) == "to=<":
		return parseDelivery(rest, ev)
	case len(rest) >= len("skipped, ") && string(rest[:len("skipped, ")]) == "skipped, ":
		ev.Kind = event.KindInfo
		return true
	}
	if len(rest) < len("from=<") || string(rest[:len("from=<")]) != "from=<" {
		return false
	}
	r := rest[len("from=<"):]
	// The sender ends at the first ">, ", nearly always the first '>'.
	var from []byte
	if i := bytes.IndexByte(r, '>'); i >= 0 && i+2 < len(r) && r[i+1] == ',' && r[i+2] == ' ' {
		from, r = r[:i], r[i+3:]
	} else if from, r, ok = cut(r, ">, "); !ok {
		return false
	}
	ev.Domain = domainOf(from)
	if len(r) >= len("status=expired") && string(r[:len("status=expired")]) == "status=expired" {
		ev.Kind = event.KindExpired
		ev.Status = event.StatusExpired
		_, ev.Text, _ = cut(r[len("status=expired"):], ", ")
		return true
	}
	if len(r) < len("size=") || string(r[:len("size=")]) != "size=" {
		return false
	}
	r = r[len("size="):]
	size, r, ok := atoi(r)
	if !ok {
		return false
	}
	ev.Kind = event.KindQueued
	ev.Size = size
	var n int64
	if len(r) >= len(", nrcpt=") && string(r[:len(", nrcpt=")]) == ", nrcpt=" {
		n, _, _ = atoi(r[len(", nrcpt="):])
	} else if _, r, ok := cut(r, "nrcpt="); ok {
		n, _, _ = atoi(r)
	}
	if n > event.MaxNrcpt {
		ev.Bad = event.BadNrcpt
	}
	ev.Nrcpt = int32(min(n, event.MaxNrcpt))
	return true
}

// parsePickup reads pickup/pickup.c's "QUEUEID: uid=N from=<s>".
func parsePickup(msg []byte, ev *event.Event) bool {
	id, rest, ok := queueID(msg)
	if !ok {
		return false
	}
	if _, ok := trimPrefix(rest, "uid="); !ok {
		return false
	}
	ev.QueueID = id
	ev.Kind = event.KindPickup
	ev.Origin = event.OriginPickup
	if _, r, ok := cut(rest, "from=<"); ok {
		from, _, _ := cut(r, ">")
		ev.Domain = domainOf(from)
	}
	return true
}

// parseQmqpd reads qmqpd/qmqpd.c's "QUEUEID: client=host[addr]".
func parseQmqpd(msg []byte, ev *event.Event) bool {
	id, rest, ok := queueID(msg)
	if !ok {
		return false
	}
	r, ok := trimPrefix(rest, "client=")
	if !ok {
		return false
	}
	ev.QueueID = id
	ev.Kind = event.KindClient
	ev.Origin = event.OriginQMQP
	ev.Client, _, _ = client(r)
	return true
}

// parseBounce reads bounce/bounce_notify_service.c and friends: "QUEUEID:
// sender non-delivery notification: NEWID", "sender delivery status
// notification", "sender delay notification", "postmaster non-delivery
// notification". Status says which (bounced, sent, deferred); Relay holds
// the new message's queue ID, so the correlator can link the two.
func parseBounce(msg []byte, ev *event.Event) bool {
	id, rest, ok := queueID(msg)
	if !ok {
		return false
	}
	kind, newID, ok := cutAt(rest, " notification: ", 13)
	if !ok {
		return false
	}
	ev.QueueID = id
	ev.Kind = event.KindNotification
	ev.Relay = newID
	switch {
	case bytes.HasSuffix(kind, []byte("non-delivery")):
		ev.Status = event.StatusBounced
	case bytes.HasSuffix(kind, []byte("delay")):
		ev.Status = event.StatusDeferred
	default:
		ev.Status = event.StatusSent
	}
	return true
}

// parsePostsuper reads postsuper/postsuper.c's per-message lines
// ("QUEUEID: removed", "requeued", "placed on hold", "released from hold")
// and its totals ("Deleted: 3 messages").
func parsePostsuper(msg []byte, ev *event.Event) bool {
	for _, p := range [...]string{"Deleted: ", "Requeued: ", "Placed on hold: ", "Released from hold: "} {
		if _, ok := trimPrefix(msg, p); ok {
			ev.Kind = event.KindInfo
			return true
		}
	}
	if id, rest, ok := queueID(msg); ok {
		ev.QueueID = id
		switch string(rest) {
		case "removed":
			ev.Kind = event.KindRemoved
			return true
		case "requeued", "placed on hold", "released from hold":
			ev.Kind = event.KindInfo
			return true
		}
		return false
	}
	return false
}

// messageID trims cleanup's message-id= value to the ID: up to the first
// space, without the angle brackets.
func messageID(v []byte) []byte {
	if i := bytes.IndexByte(v, ' '); i >= 0 {
		v = v[:i]
	}
	if len(v) > 0 && v[0] == '<' {
		v = v[1:]
	}
	if len(v) > 0 && v[len(v)-1] == '>' {
		v = v[:len(v)-1]
	}
	return v
}
