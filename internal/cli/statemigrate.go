package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/alchemy-go/alchemy/internal/secret"
	"github.com/alchemy-go/alchemy/internal/state"
	"github.com/alchemy-go/alchemy/internal/state/backends"
)

// newCmdStateMigrate builds `alchemy state migrate --to URL [stack[/stage]]`.
func newCmdStateMigrate(f *Factory, newOpts func(*cobra.Command, bool) *StateOptions) *cobra.Command {
	var to string
	cmd := &cobra.Command{
		Use:   "migrate --to URL [stack[/stage]]",
		Short: "Copy state (a stage, a stack, or all) to another store, verify it, and say how to switch",
		Long: `Copy the state of one stage, of every stage of a stack, or of everything, from the store in use
(--state, $ALCHEMY_STATE, the stack's alchemy.WithState, or .alchemy/state) to the store --to names.

For each stage it takes the lease of the stage in both stores (so no deploy changes either while it
copies; --lock-timeout waits for one that does), refuses a stage that already has state in the
target, copies the rows and the outputs, reads them back and checks they are equal. Nothing is
copied if any target stage is not empty. The source is never changed: switch to the new store
(ALCHEMY_STATE, --state or alchemy.WithState) once you are satisfied, and delete the old state
yourself.

A shared target (postgres://, s3://) takes secrets only encrypted: set ALCHEMY_PASSWORD (see
` + "`alchemy state --help`" + `) when the state holds any.`,
		Args: cobra.MaximumNArgs(1),
	}
	opts := newOpts(cmd, true)
	cmd.Flags().StringVar(&to, "to", "", "The store to copy to: file://PATH or a path, postgres://…, s3://bucket/prefix?region=…")
	cmd.RunE = func(c *cobra.Command, args []string) error {
		if to == "" {
			return &ExitError{Code: ExitUsage, Err: fmt.Errorf("state migrate needs --to URL: the store to copy to.\nRun `%s --help` for usage.", c.CommandPath())}
		}
		path := ""
		if len(args) == 1 {
			path = strings.Trim(args[0], "/")
		}
		parts, err := statePath(path, 0, 2)
		if err != nil {
			return err
		}
		if f.Stack != nil {
			if err := f.storeLinked(stateChoice{URL: to, From: "--to"}); err != nil {
				return err
			}
		}
		return opts.run(c, func(ctx context.Context, src *openedState) error {
			getenv := envGetter(&opts.Flags)
			dst, err := f.openState(ctx, stateChoice{URL: to, From: "--to"}, projectRoot(f), backends.Options{
				Getenv: getenv, AWSCredentials: f.stateAWS(&opts.Flags, nil)})
			if err != nil {
				return err
			}
			defer dst.backend.Close()
			m := &migration{f: f, src: src, dst: dst, to: to, wait: opts.State.LockTimeout,
				codec: secret.New(getenv("ALCHEMY_PASSWORD"), "")}
			return m.run(ctx, parts)
		})
	}
	return cmd
}

type migration struct {
	f        *Factory
	src, dst *openedState
	to       string
	wait     time.Duration
	codec    *secret.Codec
}

func (m *migration) run(ctx context.Context, parts []string) error {
	f, src, dst := m.f, m.src.backend, m.dst.backend
	if sameStore(m.src.loc, m.dst.loc) {
		return &ExitError{Code: ExitUsage, Err: fmt.Errorf("--to names the store in use (%s): nothing to copy.", src.Describe())}
	}
	stages, err := stagesOf(ctx, src, parts)
	if err != nil {
		return err
	}
	what := "state"
	if len(parts) > 0 {
		what = "state for " + strings.Join(parts, "/")
	}
	if len(stages) == 0 {
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("%s has no %s: nothing was copied.", src.Describe(), what)}
	}
	// Every target stage must be empty before anything is copied.
	for _, ss := range stages {
		if err := m.refuseNonEmpty(ctx, ss[0], ss[1]); err != nil {
			return err
		}
	}
	for _, ss := range stages {
		n, err := m.copyStage(ctx, ss[0], ss[1])
		if err != nil {
			return err
		}
		f.IO.Printf("Copied %s/%s: %s and its outputs, read back and verified.\n", ss[0], ss[1], plural(n, "resource"))
	}
	shown := backends.Redact(m.to)
	f.IO.Printf("\nMigrated %s from %s to %s. The source is unchanged.\n", plural(len(stages), "stage"), src.Describe(), dst.Describe())
	f.IO.Printf("To use the new store, set ALCHEMY_STATE=%s (in CI, from a secret), pass --state %s, or declare it in the stack: alchemy.WithState(%q).\n",
		shown, shown, shown)
	return nil
}

// sameStore reports whether two locations are one store.
func sameStore(a, b backends.Location) bool {
	if a.Kind != b.Kind {
		return false
	}
	if a.Kind == backends.Local {
		return a.Dir == b.Dir
	}
	return a.Display == b.Display
}

// stagesOf lists the (stack, stage) pairs parts names: all, a stack's, or
// one, sorted.
func stagesOf(ctx context.Context, s state.Store, parts []string) ([][2]string, error) {
	var stacks []string
	if len(parts) > 0 {
		stacks = []string{parts[0]}
	} else {
		var err error
		if stacks, err = s.Stacks(ctx); err != nil {
			return nil, err
		}
	}
	var out [][2]string
	for _, stack := range stacks {
		stages, err := s.Stages(ctx, stack)
		if err != nil {
			return nil, err
		}
		for _, stage := range stages {
			if len(parts) == 2 && stage != parts[1] {
				continue
			}
			out = append(out, [2]string{stack, stage})
		}
	}
	return out, nil
}

func (m *migration) refuseNonEmpty(ctx context.Context, stack, stage string) error {
	dst := m.dst.backend
	fqns, err := dst.List(ctx, stack, stage)
	if err != nil {
		return err
	}
	out, err := dst.GetOutput(ctx, stack, stage)
	if err != nil {
		return err
	}
	if len(fqns) == 0 && out == nil {
		return nil
	}
	return &ExitError{Code: ExitFailure, Err: fmt.Errorf("The target %s already has state for %s/%s (%s): nothing was copied. Migrate to an empty store, or forget that stage there first: alchemy state delete %s/%s --yes --state %s",
		dst.Describe(), stack, stage, plural(len(fqns), "resource"), stack, stage, backends.Redact(m.to))}
}

// copyStage copies one stage under both stores' leases and verifies it.
func (m *migration) copyStage(ctx context.Context, stack, stage string) (int, error) {
	f, src, dst := m.f, m.src.backend, m.dst.backend
	command := "alchemy state migrate --to " + backends.Redact(m.to)
	wait := m.wait
	sl, err := f.takeLease(ctx, src, stack, stage, command, wait)
	if err != nil {
		return 0, err
	}
	defer sl.Release()
	dl, err := f.takeLease(ctx, dst, stack, stage, command, wait)
	if err != nil {
		return 0, err
	}
	defer dl.Release()
	if err := m.refuseNonEmpty(ctx, stack, stage); err != nil {
		return 0, err
	}
	rows, err := state.LoadAll(ctx, src, stack, stage)
	if err != nil {
		return 0, err
	}
	out, err := src.GetOutput(ctx, stack, stage)
	if err != nil {
		return 0, err
	}
	fqns := make([]string, 0, len(rows))
	for fqn := range rows {
		fqns = append(fqns, fqn)
	}
	sort.Strings(fqns)
	ds := dl.Store()
	for _, fqn := range fqns {
		row := rows[fqn]
		if m.dst.loc.Remote() && m.codec.Encrypts() {
			// The TypeScript tool's secrets in clear: a shared store
			// takes them only encrypted.
			if row, err = sealClearRow(m.codec, row); err != nil {
				return 0, err
			}
		}
		if err := ds.Set(ctx, stack, stage, row); err != nil {
			return 0, fmt.Errorf("copying %s/%s/%s to %s: %w. The source is unchanged.", stack, stage, fqn, dst.Describe(), err)
		}
	}
	if out != nil {
		if m.dst.loc.Remote() && m.codec.Encrypts() {
			if out, err = sealClearJSON(m.codec, out); err != nil {
				return 0, err
			}
		}
		if err := ds.SetOutput(ctx, stack, stage, out); err != nil {
			return 0, fmt.Errorf("copying the outputs of %s/%s to %s: %w. The source is unchanged.", stack, stage, dst.Describe(), err)
		}
	}
	if err := state.Flush(ctx, ds); err != nil {
		return 0, err
	}
	if err := m.verify(ctx, stack, stage, rows, out); err != nil {
		return 0, fmt.Errorf("%w. The source is unchanged; the copy in %s is not to be trusted: forget it (alchemy state delete %s/%s --yes --state %s) and migrate again.",
			err, dst.Describe(), stack, stage, backends.Redact(m.to))
	}
	return len(rows), nil
}

// verify reads the stage back from the target and compares it with what
// was read from the source, as normalised JSON: byte-equal once key order,
// whitespace and the form of each secret (opened where it can be) are set
// aside.
func (m *migration) verify(ctx context.Context, stack, stage string, want map[string]*state.Row, wantOut json.RawMessage) error {
	dst := m.dst.backend
	got, err := state.LoadAll(ctx, dst, stack, stage)
	if err != nil {
		return fmt.Errorf("reading %s/%s back from %s: %w", stack, stage, dst.Describe(), err)
	}
	if len(got) != len(want) {
		return fmt.Errorf("verifying %s/%s in %s: %d resources read back, %d copied", stack, stage, dst.Describe(), len(got), len(want))
	}
	for fqn, w := range want {
		g, ok := got[fqn]
		if !ok {
			return fmt.Errorf("verifying %s/%s in %s: %s is missing", stack, stage, dst.Describe(), fqn)
		}
		a, err := m.normalRow(w)
		if err != nil {
			return err
		}
		b, err := m.normalRow(g)
		if err != nil {
			return err
		}
		if !bytes.Equal(a, b) {
			return fmt.Errorf("verifying %s/%s in %s: %s differs from the source", stack, stage, dst.Describe(), fqn)
		}
	}
	gotOut, err := dst.GetOutput(ctx, stack, stage)
	if err != nil {
		return err
	}
	a, err := m.normal(wantOut)
	if err != nil {
		return err
	}
	b, err := m.normal(gotOut)
	if err != nil {
		return err
	}
	if !bytes.Equal(a, b) {
		return fmt.Errorf("verifying %s/%s in %s: the outputs differ from the source", stack, stage, dst.Describe())
	}
	return nil
}

func (m *migration) normalRow(r *state.Row) ([]byte, error) {
	raw, err := r.MarshalJSON()
	if err != nil {
		return nil, err
	}
	return m.normal(raw)
}

// normal is raw decoded and encoded again (sorted keys, no spaces), with
// every secret opened where the codec can.
func (m *migration) normal(raw json.RawMessage) ([]byte, error) {
	if raw == nil {
		return nil, nil
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	return json.Marshal(mapSealed(v, func(s any) (any, error) {
		if secret.FormOf(s) == secret.Hashed {
			return s, nil
		}
		if open, known, err := m.codec.Open(s); err == nil && known {
			return map[string]any{"opened": open}, nil
		}
		return s, nil
	}))
}

// mapSealed replaces every sealed value in v with fn's answer (errors
// leave the value as it was).
func mapSealed(v any, fn func(any) (any, error)) any {
	if secret.IsSealed(v) {
		if r, err := fn(v); err == nil {
			return r
		}
		return v
	}
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = mapSealed(e, fn)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = mapSealed(e, fn)
		}
		return out
	}
	return v
}

// sealClearJSON encrypts the secrets raw holds in clear.
func sealClearJSON(c *secret.Codec, raw json.RawMessage) (json.RawMessage, error) {
	if len(raw) == 0 || !bytes.Contains(raw, []byte(secret.RedactedMarker)) {
		return raw, nil
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return raw, nil
	}
	var sealErr error
	v = mapSealed(v, func(s any) (any, error) {
		if secret.FormOf(s) != secret.Clear {
			return s, nil
		}
		sealed, err := c.Seal(secret.Where{}, s.(map[string]any)[secret.RedactedMarker])
		if err != nil {
			sealErr = err
		}
		return sealed, err
	})
	if sealErr != nil {
		return nil, sealErr
	}
	return json.Marshal(v)
}

// sealClearRow is row with its secrets in clear encrypted (props, attrs,
// the fields it does not model, and its old generations).
func sealClearRow(c *secret.Codec, row *state.Row) (*state.Row, error) {
	if row == nil {
		return nil, nil
	}
	out := *row
	var err error
	if out.Props, err = sealClearJSON(c, row.Props); err != nil {
		return nil, err
	}
	if out.Attr, err = sealClearJSON(c, row.Attr); err != nil {
		return nil, err
	}
	if row.Extra != nil {
		out.Extra = make(map[string]json.RawMessage, len(row.Extra))
		keys := make([]string, 0, len(row.Extra))
		for k := range row.Extra {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if out.Extra[k], err = sealClearJSON(c, row.Extra[k]); err != nil {
				return nil, err
			}
		}
	}
	if out.Old, err = sealClearRow(c, row.Old); err != nil {
		return nil, err
	}
	return &out, nil
}
