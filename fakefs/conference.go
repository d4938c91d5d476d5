package fakefs

type member struct {
	id int
}

type conference struct{}

type forkState struct{}

func (ch *Channel) runConference(arg string) { ch.waitKilled(ch.f.ctx) }

func (ch *Channel) runInsideLocked(r *appReq) { ch.enqueueLocked(r) }

func (f *FS) conferenceAPI(args string) string { return "+OK No active conferences.\n" }

func (f *FS) uuidAudioFork(args string) string { return "-ERR Operation Failed\n" }
