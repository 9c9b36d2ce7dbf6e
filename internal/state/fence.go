package state

import (
	"context"
	"encoding/json"
)

// Fence is the lease a writer holds on a stage. Check returns an error once
// the lease is lost (taken over after it expired, broken by hand): from then
// on every write must be refused, or a writer that was paused would
// overwrite what the new holder wrote.
type Fence interface {
	Check() error
}

// Fenced returns s with every write (Set, Delete, SetOutput, DeleteStage,
// Flush, Recover) refused unless f.Check passes first. Reads go straight
// through.
func Fenced(s Store, f Fence) Store {
	if f == nil {
		return s
	}
	return &fenced{Store: s, f: f}
}

type fenced struct {
	Store
	f Fence
}

func (s *fenced) Set(ctx context.Context, stack, stage string, row *Row) error {
	if err := s.f.Check(); err != nil {
		return err
	}
	return s.Store.Set(ctx, stack, stage, row)
}

func (s *fenced) Delete(ctx context.Context, stack, stage, fqn string) error {
	if err := s.f.Check(); err != nil {
		return err
	}
	return s.Store.Delete(ctx, stack, stage, fqn)
}

func (s *fenced) SetOutput(ctx context.Context, stack, stage string, out json.RawMessage) error {
	if err := s.f.Check(); err != nil {
		return err
	}
	return s.Store.SetOutput(ctx, stack, stage, out)
}

func (s *fenced) DeleteStage(ctx context.Context, stack, stage string) error {
	if err := s.f.Check(); err != nil {
		return err
	}
	return s.Store.DeleteStage(ctx, stack, stage)
}

func (s *fenced) Flush(ctx context.Context) error {
	if err := s.f.Check(); err != nil {
		return err
	}
	return Flush(ctx, s.Store)
}

func (s *fenced) Recover(ctx context.Context, stack, stage string) error {
	if err := s.f.Check(); err != nil {
		return err
	}
	return Recover(ctx, s.Store, stack, stage)
}

// GetAll is a read: it goes straight through, in one read when the store
// is a BulkReader.
func (s *fenced) GetAll(ctx context.Context, stack, stage string) (map[string]*Row, error) {
	return LoadAll(ctx, s.Store, stack, stage)
}
