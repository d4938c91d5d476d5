package fakefs

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// conference is one mod_conference room; guarded by f.mu.
type conference struct {
	name, profile, uuid string
	created             time.Time
	members             []*member // join order
	floor               *member
	mc                  mediaConference
	ended               bool
}

// member is one channel in a conference; guarded by f.mu.
type member struct {
	id       int
	ch       *Channel
	conf     *conference
	flags    map[string]bool
	canSpeak bool
	canHear  bool
	talking  bool
	joined   time.Time
	left     chan struct{} // closed when the member leaves (kick, hup, endconf)
	gone     bool
}

// ConferenceInfo is a snapshot of a conference for tests.
type ConferenceInfo struct {
	Name    string
	UUID    string
	Members []MemberInfo
}

// MemberInfo is one member in a ConferenceInfo.
type MemberInfo struct {
	ID                int
	ChannelUUID       string
	CanSpeak, CanHear bool
	Flags             []string
}

// Conference returns a snapshot of the named conference.
func (f *FS) Conference(name string) (ConferenceInfo, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.conferences[name]
	if !ok {
		return ConferenceInfo{}, false
	}
	info := ConferenceInfo{Name: c.name, UUID: c.uuid}
	for _, m := range c.members {
		mi := MemberInfo{ID: m.id, ChannelUUID: m.ch.uuid, CanSpeak: m.canSpeak, CanHear: m.canHear}
		for fl := range m.flags {
			mi.Flags = append(mi.Flags, fl)
		}
		sort.Strings(mi.Flags)
		info.Members = append(info.Members, mi)
	}
	return info, true
}

// parseConferenceArg splits `name@profile+flags{a|b}`.
func parseConferenceArg(arg string) (name, profile string, flags map[string]bool) {
	flags = map[string]bool{}
	if i := strings.Index(arg, "+flags{"); i >= 0 {
		list := strings.TrimSuffix(arg[i+len("+flags{"):], "}")
		for _, fl := range strings.Split(list, "|") {
			if fl = strings.TrimSpace(fl); fl != "" {
				flags[fl] = true
			}
		}
		arg = arg[:i]
	}
	name, profile, _ = strings.Cut(arg, "@")
	if profile == "" {
		profile = "default"
	}
	return name, profile, flags
}

var (
	callConfCreate   = calling{"mod_conference.c", "conference_new", 3848}
	callConfDestroy  = calling{"mod_conference.c", "conference_thread_run", 863}
	callMemberAdd    = calling{"conference_member.c", "conference_member_add", 962}
	callMemberDel    = calling{"conference_member.c", "conference_member_del", 1355}
	callFloor        = calling{"conference_member.c", "conference_member_set_floor_holder", 1158}
	callTalk         = calling{"conference_loop.c", "conference_loop_input", 1154}
	callFileDone     = calling{"conference_file.c", "conference_file_close", 52}
	callAPIPlay      = calling{"conference_api.c", "conference_api_sub_play", 2817}
	callAPIPlayMemb  = calling{"conference_api.c", "conference_api_sub_play", 2846}
	callAPISayMember = calling{"conference_api.c", "conference_api_sub_saymember", 2944}
	callAPIKick      = calling{"conference_api.c", "conference_api_sub_kick", 902}
)

var memberActionCalling = map[string]calling{
	"mute-member":   {"conference_api.c", "conference_api_sub_mute", 339},
	"unmute-member": {"conference_api.c", "conference_api_sub_unmute", 492},
	"deaf-member":   {"conference_api.c", "conference_api_sub_deaf", 797},
	"undeaf-member": {"conference_api.c", "conference_api_sub_undeaf", 839},
	"hup-member":    {"conference_api.c", "conference_api_sub_hup", 940},
}

func (c *conference) confHeaders(f *FS, h *headers) {
	h.add("Conference-Name", c.name)
	h.add("Conference-Domain", f.opts.IPv4)
	h.add("Conference-Size", strconv.Itoa(c.size()))
	h.add("Conference-Ghosts", "0")
	h.add("Conference-Profile-Name", c.profile)
	h.add("Conference-Unique-ID", c.uuid)
}

func (c *conference) size() int {
	n := 0
	for _, m := range c.members {
		if !m.gone {
			n++
		}
	}
	return n
}

// memberHeaders is conference_member_add_event_data.
func (m *member) memberHeaders(f *FS, h *headers) {
	m.conf.confHeaders(f, h)
	h.add("Floor", strconv.FormatBool(m.conf.floor == m))
	m.ch.basicHeadersLocked(h)
	h.add("Video", "false")
	h.add("Hear", strconv.FormatBool(m.canHear))
	h.add("See", "true")
	h.add("Speak", strconv.FormatBool(m.canSpeak))
	h.add("Talking", strconv.FormatBool(m.talking))
	h.add("Mute-Detect", "false")
	h.add("Hold", "false")
	h.add("Member-ID", strconv.Itoa(m.id))
	h.add("Member-Type", "member")
	h.add("Member-Ghost", "false")
	h.add("Energy-Level", "100")
	h.add("Current-Energy", "0")
}

func confEvent(at calling) *event {
	return &event{name: "CUSTOM", subclass: "conference::maintenance", calling: at}
}

func (f *FS) emitConfLocked(c *conference, at calling, action string, extra ...header) {
	e := confEvent(at)
	c.confHeaders(f, &e.headers)
	e.headers.add("Action", action)
	e.headers = append(e.headers, extra...)
	f.emitLocked(e)
}

func (f *FS) emitMemberLocked(m *member, at calling, action string, extra ...header) {
	e := confEvent(at)
	e.uuid = m.ch.uuid
	m.memberHeaders(f, &e.headers)
	e.headers.add("Action", action)
	e.headers = append(e.headers, extra...)
	f.emitLocked(e)
}

func (f *FS) setFloorLocked(c *conference, to *member) {
	old := c.floor
	if old == to {
		return
	}
	c.floor = to
	e := confEvent(callFloor)
	c.confHeaders(f, &e.headers)
	e.headers.add("Action", "floor-change")
	if old != nil {
		e.headers.add("Old-ID", strconv.Itoa(old.id))
	} else {
		e.headers.add("Old-ID", "none")
	}
	if to != nil {
		e.uuid = to.ch.uuid
		to.memberHeaders(f, &e.headers)
		e.headers.add("New-ID", strconv.Itoa(to.id))
	} else {
		e.headers.add("New-ID", "none")
	}
	f.emitLocked(e)
}

// runConference is the conference app: it returns when the member leaves
// or the channel hangs up.
func (ch *Channel) runConference(arg string) {
	f := ch.f
	name, profile, flags := parseConferenceArg(arg)
	f.mu.Lock()
	if ch.hungup || name == "" {
		f.mu.Unlock()
		return
	}
	c, ok := f.conferences[name]
	if !ok {
		c = &conference{name: name, profile: profile, uuid: uuid.NewString(), created: time.Now(), mc: f.media.NewConference(name)}
		f.conferences[name] = c
		c.mc.OnTalking(func(id int, talking bool) {
			f.cb.post(func() { f.talking(c, id, talking) })
		})
		f.emitConfLocked(c, callConfCreate, "conference-create")
	}
	f.memberSeq++
	m := &member{
		id: f.memberSeq, ch: ch, conf: c, flags: flags, joined: time.Now(),
		canSpeak: !flags["mute"], canHear: !flags["deaf"], left: make(chan struct{}),
	}
	c.members = append(c.members, m)
	ch.member = m
	ch.vars.setLast("conference_name", name)
	ch.vars.setLast("app_session_uuid", c.uuid)
	ch.vars.setLast("read_codec", "L16")
	ch.vars.setLast("read_rate", "8000")
	ch.vars.setLast("conference_member_id", strconv.Itoa(m.id))
	ch.vars.setLast("conference_moderator", strconv.FormatBool(flags["moderator"]))
	ch.vars.setLast("conference_ghost", "false")
	ch.vars.setLast("conference_uuid", c.uuid)
	ch.vars.setLast("conference_call_key", "conference_"+name+"_"+f.opts.IPv4+"_"+ch.cidNumber)
	if ch.leg != nil {
		c.mc.Add(ch.leg, m.id, m.canHear, m.canSpeak)
	}
	f.emitMemberLocked(m, callMemberAdd, "add-member")
	if c.floor == nil && m.canSpeak {
		f.setFloorLocked(c, m)
	}
	f.mu.Unlock()

	select {
	case <-m.left:
	case <-ch.killed:
	case <-f.ctx.Done():
	}

	f.mu.Lock()
	f.removeMemberLocked(m)
	f.mu.Unlock()
}

// removeMemberLocked takes m out (once): del-member, floor, endconf and
// the conference's end when it is empty.
func (f *FS) removeMemberLocked(m *member) {
	if m.gone {
		return
	}
	c := m.conf
	if m.ch.leg != nil {
		c.mc.Remove(m.id)
	}
	if c.floor == m {
		// As captured: the floor is released with Old-ID and New-ID both
		// "none"; it moves again when someone talks.
		c.floor = nil
		e := confEvent(callFloor)
		c.confHeaders(f, &e.headers)
		e.headers.add("Action", "floor-change")
		e.headers.add("Old-ID", "none")
		e.headers.add("New-ID", "none")
		f.emitLocked(e)
	}
	m.gone = true
	f.emitMemberLocked(m, callMemberDel, "del-member")
	m.ch.member = nil
	select {
	case <-m.left:
	default:
		close(m.left)
	}
	var rest []*member
	for _, o := range c.members {
		if o != m {
			rest = append(rest, o)
		}
	}
	c.members = rest
	if m.flags["endconf"] {
		// Any member with endconf ends the conference when it leaves.
		for _, o := range c.members {
			f.removeMemberLocked(o)
		}
	}
	if len(c.members) == 0 && !c.ended {
		c.ended = true
		f.emitConfLocked(c, callConfDestroy, "conference-destroy")
		delete(f.conferences, c.name)
		c.mc.Close()
	}
}

func (f *FS) talking(c *conference, id int, talking bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range c.members {
		if m.id == id && !m.gone && m.talking != talking {
			m.talking = talking
			action := "stop-talking"
			if talking {
				action = "start-talking"
			}
			f.emitMemberLocked(m, callTalk, action)
		}
	}
}

// runInsideLocked runs an app sent without event-lock while the channel is
// in a conference: it plays inside the conference loop, so the member hears
// it instead of the conference (FACTS).
func (ch *Channel) runInsideLocked(r *appReq) {
	ch.f.goOwned(func() { ch.execute(r) })
}

// conferenceAPI is `api conference ...`.
func (f *FS) conferenceAPI(args string) string {
	fields := strings.Fields(args)
	if len(fields) == 0 {
		return conferenceUsage
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if fields[0] == "list" && len(fields) == 1 {
		if len(f.conferences) == 0 {
			return "+OK No active conferences.\n"
		}
		var b strings.Builder
		names := make([]string, 0, len(f.conferences))
		for n := range f.conferences {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			c := f.conferences[n]
			fmt.Fprintf(&b, "+OK Conference %s (%d member%s rate: 8000 flags: running|answered|enforce_min|dynamic|exit_sound|enter_sound)\n", c.name, c.size(), plural(c.size()))
			b.WriteString(c.list())
		}
		return b.String()
	}
	c, ok := f.conferences[fields[0]]
	if !ok {
		return "-ERR Conference " + fields[0] + " not found\n"
	}
	if len(fields) < 2 {
		return conferenceUsage
	}
	sub, rest := fields[1], fields[2:]
	switch sub {
	case "list":
		return c.list()
	case "count":
		return strconv.Itoa(c.size()) + "\n"
	case "json_list":
		return c.jsonList()
	case "mute", "unmute", "deaf", "undeaf", "tmute":
		return f.memberFlagCmd(c, sub, rest)
	case "relate":
		return f.relate(c, rest)
	case "kick", "hup":
		return f.kick(c, sub, rest)
	case "play":
		return f.confPlay(c, rest)
	case "saymember":
		if len(rest) < 2 {
			return "-ERR (saymember) Error!\nsaymember <member_id> <text>"
		}
		id, _ := strconv.Atoi(rest[0])
		m := c.member(id)
		if m == nil {
			return "-ERR (saymember) Error!\nsaymember <member_id> <text>"
		}
		// No TTS engine in the profile: +OK, nothing said (FACTS).
		f.emitMemberLocked(m, callAPISayMember, "speak-text-member", header{"Text", strings.Join(rest[1:], " ")})
		return "+OK (saymember) OK\n"
	case "say":
		return "-ERR (say) Error!\nsay <text>"
	default:
		return conferenceUsage
	}
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func (c *conference) member(id int) *member {
	for _, m := range c.members {
		if m.id == id && !m.gone {
			return m
		}
	}
	return nil
}

func (m *member) flagList() string {
	var fl []string
	if m.canHear {
		fl = append(fl, "hear")
	}
	if m.canSpeak {
		fl = append(fl, "speak")
	}
	if m.talking {
		fl = append(fl, "talking")
	}
	if m.conf.floor == m {
		fl = append(fl, "floor")
	}
	// conference_list prints hear, speak, talking, video, floor, vid-floor,
	// moderator and ghost — never endconf (esl-outbound1).
	if m.flags["moderator"] {
		fl = append(fl, "moderator")
	}
	if m.flags["ghost"] {
		fl = append(fl, "ghost")
	}
	return strings.Join(fl, "|")
}

// list is newest member first, as mod_conference lists them.
func (c *conference) list() string {
	var b strings.Builder
	for i := len(c.members) - 1; i >= 0; i-- {
		m := c.members[i]
		if m.gone {
			continue
		}
		fmt.Fprintf(&b, "%d;%s;%s;%s;%s;%s;0;0;100\n", m.id, m.ch.name, m.ch.uuid, m.ch.cidName, m.ch.cidNumber, m.flagList())
	}
	return b.String()
}

func (f *FS) memberFlagCmd(c *conference, sub string, rest []string) string {
	if len(rest) == 0 {
		return conferenceUsage
	}
	var targets []*member
	switch rest[0] {
	case "all":
		for _, m := range c.members {
			if !m.gone {
				targets = append(targets, m)
			}
		}
	case "last":
		if n := len(c.members); n > 0 {
			targets = append(targets, c.members[n-1])
		}
	default:
		id, err := strconv.Atoi(rest[0])
		m := c.member(id)
		if err != nil || m == nil {
			return "-ERR Non-Existant ID " + rest[0] + "\n"
		}
		targets = append(targets, m)
	}
	var b strings.Builder
	for _, m := range targets {
		switch sub {
		case "mute":
			m.canSpeak = false
			m.talking = false
			c.mc.SetCanSpeak(m.id, false)
			f.emitMemberLocked(m, memberActionCalling["mute-member"], "mute-member")
			if c.floor == m {
				var next *member
				for _, o := range c.members {
					if o != m && !o.gone && o.canSpeak {
						next = o
					}
				}
				if next != nil {
					f.setFloorLocked(c, next)
				}
			}
		case "tmute":
			sub = "mute"
			if !m.canSpeak {
				sub = "unmute"
			}
			return f.memberFlagCmd(c, sub, rest)
		case "unmute":
			m.canSpeak = true
			c.mc.SetCanSpeak(m.id, true)
			f.emitMemberLocked(m, memberActionCalling["unmute-member"], "unmute-member")
		case "deaf":
			m.canHear = false
			c.mc.SetCanHear(m.id, false)
			f.emitMemberLocked(m, memberActionCalling["deaf-member"], "deaf-member")
		case "undeaf":
			m.canHear = true
			c.mc.SetCanHear(m.id, true)
			f.emitMemberLocked(m, memberActionCalling["undeaf-member"], "undeaf-member")
		}
		fmt.Fprintf(&b, "+OK %s %d\n", sub, m.id)
	}
	return b.String()
}

const relateUsage = "relate <member_id>[,<member_id>] <other_member_id>[,<other_member_id>] [nospeak|nohear|clear]"

func (f *FS) relate(c *conference, rest []string) string {
	if len(rest) < 3 {
		return relateUsage
	}
	action := rest[2]
	var rel relation
	switch action {
	case "nospeak":
		rel = relNoSpeak
	case "nohear":
		rel = relNoHear
	case "clear":
		rel = relClear
	default:
		return relateUsage
	}
	var b strings.Builder
	for _, as := range strings.Split(rest[0], ",") {
		for _, bs := range strings.Split(rest[1], ",") {
			a, _ := strconv.Atoi(as)
			o, _ := strconv.Atoi(bs)
			if c.member(a) == nil || c.member(o) == nil {
				fmt.Fprintf(&b, "-ERR relationship %s->%s not found.\n", as, bs)
				continue
			}
			c.mc.Relate(a, o, rel)
			if rel == relClear {
				fmt.Fprintf(&b, "+OK relationship %d->%d cleared.\n", a, o)
			} else {
				fmt.Fprintf(&b, "+OK %d->%d %s set\n", a, o, action)
			}
		}
	}
	return b.String()
}

func (f *FS) kick(c *conference, sub string, rest []string) string {
	if len(rest) == 0 {
		return conferenceUsage
	}
	id, err := strconv.Atoi(rest[0])
	m := c.member(id)
	if err != nil || m == nil {
		return "-ERR Non-Existant ID " + rest[0] + "\n"
	}
	if sub == "kick" {
		f.emitMemberLocked(m, callAPIKick, "kick-member")
	} else {
		f.emitMemberLocked(m, memberActionCalling["hup-member"], "hup-member")
	}
	// The member leaves; its conference app then completes.
	select {
	case <-m.left:
	default:
		close(m.left)
	}
	if sub == "kick" {
		return fmt.Sprintf("+OK kicked %d\n", m.id)
	}
	return fmt.Sprintf("+OK hup %d\n", m.id)
}

func (f *FS) confPlay(c *conference, rest []string) string {
	if len(rest) == 0 {
		return "-ERR (play) Error!\nplay <file_path> [async|<member_id> [nomux]]"
	}
	file := rest[0]
	src, err := f.media.OpenFile(file)
	if err != nil {
		return "-ERR (play) File: " + file + " not found.\n"
	}
	started := time.Now()
	if len(rest) > 1 && rest[1] != "async" {
		id, _ := strconv.Atoi(rest[1])
		m := c.member(id)
		if m == nil {
			return "-ERR (play) Member: " + rest[1] + " not found.\n"
		}
		f.emitMemberLocked(m, callAPIPlayMemb, "play-file-member", header{"File", file})
		c.mc.Play(src, m.id, func() {
			f.cb.post(func() {
				f.mu.Lock()
				defer f.mu.Unlock()
				if m.gone {
					return
				}
				e := confEvent(callFileDone)
				e.uuid = m.ch.uuid
				c.confHeaders(f, &e.headers)
				fileTiming(&e.headers, time.Since(started))
				e.headers.add("Action", "play-file-member-done")
				m.memberHeaders(f, &e.headers)
				e.headers.add("File", file)
				f.emitLocked(e)
			})
		})
		return "+OK (play) Playing file " + file + " to member " + rest[1] + "\n"
	}
	f.emitConfLocked(c, callAPIPlay, "play-file", header{"File", file}, header{"Async", strconv.FormatBool(len(rest) > 1)})
	c.mc.Play(src, 0, func() {
		f.cb.post(func() {
			f.mu.Lock()
			defer f.mu.Unlock()
			if c.ended {
				return
			}
			e := confEvent(callFileDone)
			c.confHeaders(f, &e.headers)
			fileTiming(&e.headers, time.Since(started))
			e.headers.add("Action", "play-file-done")
			e.headers.add("File", file)
			f.emitLocked(e)
		})
	})
	return "+OK (play) Playing file " + file + "\n"
}

func fileTiming(h *headers, d time.Duration) {
	h.add("seconds", strconv.Itoa(int(d.Seconds())))
	h.add("milliseconds", strconv.FormatInt(d.Milliseconds(), 10))
	h.add("samples", strconv.FormatInt(d.Milliseconds()*8, 10))
}

// jsonList renders json_list like mod_conference (cJSON_Print).
func (c *conference) jsonList() string {
	var members []any
	for i := len(c.members) - 1; i >= 0; i-- {
		m := c.members[i]
		if m.gone {
			continue
		}
		members = append(members, jobj{
			{"type", "caller"},
			{"id", m.id},
			{"flags", jobj{
				{"can_hear", m.canHear}, {"can_see", true}, {"can_speak", m.canSpeak}, {"hold", false},
				{"mute_detect", false}, {"talking", m.talking}, {"has_video", false}, {"video_bridge", false},
				{"has_floor", c.floor == m}, {"is_moderator", m.flags["moderator"]}, {"end_conference", m.flags["endconf"]},
				{"mandatory_member_end_conference", m.flags["mandatory_member_endconf"]}, {"pass_digits", false},
			}},
			{"uuid", m.ch.uuid},
			{"caller_id_name", m.ch.cidName},
			{"caller_id_number", m.ch.cidNumber},
			{"join_time", int(time.Since(m.joined).Seconds())},
			{"last_talking", 0},
			{"energy", 100},
			{"volume_in", 0},
			{"volume_out", 0},
			{"output-volume", 0},
			{"input-volume", 0},
		})
	}
	conf := jobj{
		{"conference_name", c.name},
		{"member_count", c.size()},
		{"ghost_count", 0},
		{"rate", 8000},
		{"run_time", int(time.Since(c.created).Seconds())},
		{"conference_uuid", c.uuid},
		{"canvas_count", 0},
		{"max_bw_in", 0},
		{"force_bw_in", 0},
		{"video_floor_packets", 0},
	}
	for _, fl := range []struct {
		k string
		v bool
	}{
		{"locked", false}, {"destruct", false}, {"wait_mod", false}, {"audio_always", false}, {"running", true},
		{"answered", true}, {"enforce_min", true}, {"bridge_to", false}, {"dynamic", true}, {"exit_sound", true},
		{"enter_sound", true}, {"recording", false}, {"video_bridge", false}, {"video_floor_only", false}, {"video_rfc4579", false},
	} {
		conf = append(conf, jkv{fl.k, fl.v})
	}
	conf = append(conf, jkv{"variables", jobj{}}, jkv{"members", members})
	return cjsonPrint([]any{conf})
}
