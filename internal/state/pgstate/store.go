package pgstate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"

	"github.com/alchemy-go/alchemy/internal/state"
	"github.com/jackc/pgx/v5"
)

// SQL shared by the pool and the leases' writers. $1 stack, $2 stage.
const (
	sqlList       = `select fqn from alchemy_resource_state where stack = $1 and stage = $2`
	sqlGet        = `select value::text from alchemy_resource_state where stack = $1 and stage = $2 and fqn = $3`
	sqlGetAll     = `select fqn, value::text from alchemy_resource_state where stack = $1 and stage = $2`
	sqlGetOutput  = `select value::text from alchemy_stack_output where stack = $1 and stage = $2`
	sqlStacks     = `select stack from alchemy_resource_state union select stack from alchemy_stack_output`
	sqlStages     = `select stage from alchemy_resource_state where stack = $1 union select stage from alchemy_stack_output where stack = $1`
	sqlDelete     = `delete from alchemy_resource_state where stack = $1 and stage = $2 and fqn = $3`
	sqlDeleteMany = `delete from alchemy_resource_state where stack = $1 and stage = $2 and fqn = any($3::text[])`
	sqlDeleteRows = `delete from alchemy_resource_state where stack = $1 and stage = $2`
	sqlDeleteOut  = `delete from alchemy_stack_output where stack = $1 and stage = $2`
	// The TypeScript tool's upserts: updated_at is the server's now().
	sqlSet = `insert into alchemy_resource_state (stack, stage, fqn, value, updated_at)
		values ($1, $2, $3, $4::jsonb, now())
		on conflict (stack, stage, fqn) do update set value = excluded.value, updated_at = excluded.updated_at`
	sqlSetMany = `insert into alchemy_resource_state (stack, stage, fqn, value, updated_at)
		select $1, $2, r.fqn, r.value::jsonb, now() from unnest($3::text[], $4::text[]) as r(fqn, value)
		on conflict (stack, stage, fqn) do update set value = excluded.value, updated_at = excluded.updated_at`
	sqlSetOutput = `insert into alchemy_stack_output (stack, stage, value, updated_at)
		values ($1, $2, $3::jsonb, now())
		on conflict (stack, stage) do update set value = excluded.value, updated_at = excluded.updated_at`
)

// List returns the stage's FQNs, sorted byte-wise (as Go sorts, whatever
// the database's collation).
func (b *Backend) List(ctx context.Context, stack, stage string) ([]string, error) {
	if err := validate(stack, stage); err != nil {
		return nil, err
	}
	rows, _ := b.pool.Query(ctx, sqlList, stack, stage)
	fqns, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, b.errorf(err, "listing state of %s/%s in %s", stack, stage, b.describe)
	}
	slices.Sort(fqns)
	return fqns, nil
}

// Get returns a row, nil when there is none. A row that cannot be read is
// an error, never "no row".
func (b *Backend) Get(ctx context.Context, stack, stage, fqn string) (*state.Row, error) {
	if err := validate(stack, stage); err != nil {
		return nil, err
	}
	if fqn == "" {
		return nil, errors.New("state get: empty FQN")
	}
	var data []byte
	err := b.pool.QueryRow(ctx, sqlGet, stack, stage, fqn).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, b.errorf(err, "reading state row %s/%s/%s in %s", stack, stage, fqn, b.describe)
	}
	return decodeRow(stack, stage, fqn, data)
}

// GetAll reads every row of a stage in one query (state.LoadAll uses it),
// decoding on every core: decoding, not the query, is most of its time.
func (b *Backend) GetAll(ctx context.Context, stack, stage string) (map[string]*state.Row, error) {
	if err := validate(stack, stage); err != nil {
		return nil, err
	}
	rows, _ := b.pool.Query(ctx, sqlGetAll, stack, stage)
	type value struct {
		fqn  string
		data []byte
		row  *state.Row
	}
	var values []value
	for rows.Next() {
		var v value
		if err := rows.Scan(&v.fqn, &v.data); err != nil {
			rows.Close()
			return nil, b.errorf(err, "reading state of %s/%s in %s", stack, stage, b.describe)
		}
		values = append(values, v)
	}
	if err := rows.Err(); err != nil {
		return nil, b.errorf(err, "reading state of %s/%s in %s", stack, stage, b.describe)
	}
	workers := min(runtime.GOMAXPROCS(0), len(values)/128+1)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(values); i += workers {
				v := &values[i]
				if v.row, errs[w] = decodeRow(stack, stage, v.fqn, v.data); errs[w] != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	out := make(map[string]*state.Row, len(values))
	for _, v := range values {
		out[v.fqn] = v.row
	}
	return out, nil
}

// CorruptRowError is a row whose value is not a state row this alchemy can
// use. It is never read as "no row": a plan would create the resource again.
type CorruptRowError struct {
	Stack, Stage, FQN string
	Err               error
}

func (e *CorruptRowError) Error() string {
	return fmt.Sprintf("state row %s/%s/%s (table alchemy_resource_state) is not a valid state row: %v. Nothing was changed. "+
		"Fix its value, or forget the resource with `alchemy state delete %s/%s/%s --yes`: its cloud resource, if any, is then left as it is "+
		"and the next deploy creates a new one.", e.Stack, e.Stage, e.FQN, e.Err, e.Stack, e.Stage, e.FQN)
}

func (e *CorruptRowError) Unwrap() error { return e.Err }

// decodeRow reads a value as the local store reads a row file: compact
// JSON (jsonb's text form has spaces), state.Row's own decoding, and the
// same validation.
func decodeRow(stack, stage, fqn string, data []byte) (*state.Row, error) {
	var compact bytes.Buffer
	compact.Grow(len(data))
	if err := json.Compact(&compact, data); err != nil {
		return nil, &CorruptRowError{stack, stage, fqn, err}
	}
	var row state.Row
	if err := json.Unmarshal(compact.Bytes(), &row); err != nil {
		return nil, &CorruptRowError{stack, stage, fqn, err}
	}
	if err := row.Validate(); err != nil {
		return nil, &CorruptRowError{stack, stage, fqn, err}
	}
	return &row, nil
}

// encodeRow is state.Row's own JSON, the TypeScript tool's row format.
func encodeRow(row *state.Row) (string, error) {
	if row == nil || row.FQN == "" {
		return "", errors.New("state set: row without an FQN")
	}
	data, err := row.MarshalJSON()
	if err != nil {
		return "", fmt.Errorf("encoding state row %s: %w", row.FQN, err)
	}
	return string(data), nil
}

// encodeOutput compacts a stack-output record; "" removes it.
func encodeOutput(stack, stage string, out json.RawMessage) (string, error) {
	if len(out) == 0 {
		return "", nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, out); err != nil {
		return "", fmt.Errorf("stack output of %s/%s is not valid JSON: %w", stack, stage, err)
	}
	return buf.String(), nil
}

// Set writes a row, durably, without a lease.
func (b *Backend) Set(ctx context.Context, stack, stage string, row *state.Row) error {
	if err := validate(stack, stage); err != nil {
		return err
	}
	value, err := encodeRow(row)
	if err != nil {
		return err
	}
	if _, err := b.pool.Exec(ctx, sqlSet, stack, stage, row.FQN, value); err != nil {
		return b.errorf(err, "writing state row %s/%s/%s in %s", stack, stage, row.FQN, b.describe)
	}
	return nil
}

// Delete removes a row; a missing row is not an error.
func (b *Backend) Delete(ctx context.Context, stack, stage, fqn string) error {
	if err := validate(stack, stage); err != nil {
		return err
	}
	if fqn == "" {
		return errors.New("state delete: empty FQN")
	}
	if _, err := b.pool.Exec(ctx, sqlDelete, stack, stage, fqn); err != nil {
		return b.errorf(err, "deleting state row %s/%s/%s in %s", stack, stage, fqn, b.describe)
	}
	return nil
}

// GetOutput returns the stage's stack-output record, nil when absent.
func (b *Backend) GetOutput(ctx context.Context, stack, stage string) (json.RawMessage, error) {
	if err := validate(stack, stage); err != nil {
		return nil, err
	}
	var data []byte
	err := b.pool.QueryRow(ctx, sqlGetOutput, stack, stage).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, b.errorf(err, "reading the stack output of %s/%s in %s", stack, stage, b.describe)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, data); err != nil {
		return nil, fmt.Errorf("the stack output of %s/%s (table alchemy_stack_output) is not valid JSON: %w", stack, stage, err)
	}
	return compact.Bytes(), nil
}

// SetOutput replaces the stack-output record; nil removes it.
func (b *Backend) SetOutput(ctx context.Context, stack, stage string, out json.RawMessage) error {
	if err := validate(stack, stage); err != nil {
		return err
	}
	value, err := encodeOutput(stack, stage, out)
	if err != nil {
		return err
	}
	if value == "" {
		_, err = b.pool.Exec(ctx, sqlDeleteOut, stack, stage)
	} else {
		_, err = b.pool.Exec(ctx, sqlSetOutput, stack, stage, value)
	}
	if err != nil {
		return b.errorf(err, "writing the stack output of %s/%s in %s", stack, stage, b.describe)
	}
	return nil
}

// DeleteStage removes a stage's rows and output in one transaction.
func (b *Backend) DeleteStage(ctx context.Context, stack, stage string) error {
	if err := validate(stack, stage); err != nil {
		return err
	}
	batch := &pgx.Batch{}
	batch.Queue(sqlDeleteRows, stack, stage)
	batch.Queue(sqlDeleteOut, stack, stage)
	if err := b.pool.SendBatch(ctx, batch).Close(); err != nil {
		return b.errorf(err, "deleting the state of %s/%s in %s", stack, stage, b.describe)
	}
	return nil
}

// Stacks returns the stacks with rows or outputs, sorted.
func (b *Backend) Stacks(ctx context.Context) ([]string, error) {
	rows, _ := b.pool.Query(ctx, sqlStacks)
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, b.errorf(err, "listing stacks in %s", b.describe)
	}
	slices.Sort(names)
	return names, nil
}

// Stages returns a stack's stages with rows or outputs, sorted.
func (b *Backend) Stages(ctx context.Context, stack string) ([]string, error) {
	if err := state.ValidateSegment("stack", stack); err != nil {
		return nil, err
	}
	rows, _ := b.pool.Query(ctx, sqlStages, stack)
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, b.errorf(err, "listing stages of %s in %s", stack, b.describe)
	}
	slices.Sort(names)
	return names, nil
}
