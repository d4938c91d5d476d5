// Package reload keeps a configuration file's parsed content current while
// the controller runs: a file that turns bad is logged once and the last
// good content kept.
package reload

import (
	"context"
	"log/slog"
	"os"
	"sync/atomic"
	"time"
)

// File is a watched file's content.
type File[T any] struct {
	path string
	what string // for logs: "coaching policy", "supervisors"
	load func(path string) (T, error)
	log  *slog.Logger
	cur  atomic.Pointer[T]
	mod  time.Time
	size int64
}

// Watch loads path with load (it must be good at start).
func Watch[T any](path, what string, load func(string) (T, error), log *slog.Logger) (*File[T], error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f := &File[T]{path: path, what: what, load: load, log: log}
	if err := f.reload(); err != nil {
		return nil, err
	}
	return f, nil
}

// Current is the last good content.
func (f *File[T]) Current() T { return *f.cur.Load() }

// Run checks the file every interval until ctx ends.
func (f *File[T]) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if changed, err := f.Check(); err != nil {
				f.log.Error(f.what+" not reloaded; keeping the previous version", "file", f.path, "err", err)
			} else if changed {
				f.log.Info(f.what+" reloaded", "file", f.path)
			}
		}
	}
}

// Check reloads the file now if it changed since the last load.
func (f *File[T]) Check() (bool, error) {
	st, err := os.Stat(f.path)
	if err != nil {
		return false, err
	}
	if st.ModTime().Equal(f.mod) && st.Size() == f.size {
		return false, nil
	}
	return true, f.reload()
}

func (f *File[T]) reload() error {
	st, err := os.Stat(f.path)
	if err != nil {
		return err
	}
	v, err := f.load(f.path)
	// Remember this version even when bad: it is reported once, not every tick.
	f.mod, f.size = st.ModTime(), st.Size()
	if err != nil {
		return err
	}
	f.cur.Store(&v)
	return nil
}
