package fakefs

import "log/slog"

func newDefaultMedia(*slog.Logger) mediaEngine { return newClockMedia() }
