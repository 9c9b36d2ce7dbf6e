package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

var ctx = context.Background()

func newRow(fqn string, status Status) *Row {
	return &Row{
		Kind:         "resource",
		ResourceType: "Test.Thing",
		FQN:          fqn,
		LogicalID:    fqn[strings.LastIndex(fqn, "/")+1:],
		InstanceID:   NewInstanceID(),
		Status:       status,
		Props:        json.RawMessage(`{"name":"x"}`),
	}
}

func mustList(t *testing.T, s Store, stack, stage string) []string {
	t.Helper()
	fqns, err := s.List(ctx, stack, stage)
	if err != nil {
		t.Fatal(err)
	}
	return fqns
}

func TestSetGetListDelete(t *testing.T) {
	s := NewLocal(t.TempDir())
	if got := mustList(t, s, "app", "dev"); len(got) != 0 {
		t.Fatalf("empty store lists %v", got)
	}
	if row, err := s.Get(ctx, "app", "dev", "nope"); row != nil || err != nil {
		t.Fatalf("Get of a missing row = %v, %v", row, err)
	}
	fqns := []string{"Zeta", "Api/Bucket", "Api/my_bucket", `odd\name%`, "a/b_c%d\\e"}
	for _, f := range fqns {
		if err := s.Set(ctx, "app", "dev", newRow(f, Creating)); err != nil {
			t.Fatal(err)
		}
	}
	want := slices.Sorted(slices.Values(fqns))
	if got := mustList(t, s, "app", "dev"); !reflect.DeepEqual(got, want) {
		t.Fatalf("List = %q, want %q", got, want)
	}
	upd := newRow("Api/my_bucket", Created)
	upd.Attr = json.RawMessage(`{"arn":"x"}`)
	upd.Downstream = []string{"Zeta"}
	if err := s.Set(ctx, "app", "dev", upd); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, "app", "dev", "Api/my_bucket")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != Created || string(got.Attr) != `{"arn":"x"}` || !reflect.DeepEqual(got.Downstream, []string{"Zeta"}) || got.InstanceID != upd.InstanceID {
		t.Fatalf("Get = %+v", got)
	}
	// On disk after a flush: the TypeScript layout, pretty JSON, mode 0600
	// in 0700 dirs.
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(s.Root, "app", "dev", "Api__my%5Fbucket.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(data), "{\n  \"kind\": \"resource\",\n") {
		t.Errorf("not two-space JSON:\n%s", data)
	}
	for p, mode := range map[string]os.FileMode{path: 0o600, filepath.Dir(path): 0o700, filepath.Join(s.Root, "app"): 0o700} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != mode {
			t.Errorf("%s: mode %v (%v), want %o", p, fi.Mode().Perm(), err, mode)
		}
	}

	for _, f := range []string{"Api/my_bucket", "Api/my_bucket", "never-existed"} {
		if err := s.Delete(ctx, "app", "dev", f); err != nil {
			t.Fatalf("Delete(%s): %v", f, err)
		}
	}
	if row, _ := s.Get(ctx, "app", "dev", "Api/my_bucket"); row != nil {
		t.Fatal("deleted row still readable")
	}
	if got := mustList(t, s, "app", "dev"); len(got) != len(fqns)-1 {
		t.Fatalf("List after delete = %q", got)
	}
	if err := s.Delete(ctx, "app", "missing-stage", "x"); err != nil {
		t.Fatalf("Delete in a missing stage: %v", err)
	}
}

func TestStagesAreIsolated(t *testing.T) {
	s := NewLocal(t.TempDir())
	for _, stage := range []string{"dev", "prod"} {
		for i := range 3 {
			r := newRow(fmt.Sprintf("%s/R%d", stage, i), Created)
			if err := s.Set(ctx, "app", stage, r); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Set(ctx, "app", stage, newRow("Shared", Created)); err != nil {
			t.Fatal(err)
		}
		if err := s.SetOutput(ctx, "app", stage, json.RawMessage(`{"stage":"`+stage+`"}`)); err != nil {
			t.Fatal(err)
		}
	}
	for _, stage := range []string{"dev", "prod"} {
		for _, f := range mustList(t, s, "app", stage) {
			if f != "Shared" && !strings.HasPrefix(f, stage+"/") {
				t.Errorf("stage %s lists %s", stage, f)
			}
		}
	}
	// Same FQN, different stages: different rows.
	dev, _ := s.Get(ctx, "app", "dev", "Shared")
	prod, _ := s.Get(ctx, "app", "prod", "Shared")
	if dev.InstanceID == prod.InstanceID {
		t.Fatal("stages share a row")
	}
	if err := s.Delete(ctx, "app", "dev", "Shared"); err != nil {
		t.Fatal(err)
	}
	if row, _ := s.Get(ctx, "app", "prod", "Shared"); row == nil {
		t.Fatal("deleting dev's row removed prod's")
	}
	if err := s.DeleteStage(ctx, "app", "dev"); err != nil {
		t.Fatal(err)
	}
	if got := mustList(t, s, "app", "dev"); len(got) != 0 {
		t.Fatalf("dev after DeleteStage: %q", got)
	}
	if got := mustList(t, s, "app", "prod"); len(got) != 4 {
		t.Fatalf("prod after deleting dev: %q", got)
	}
	if out, _ := s.GetOutput(ctx, "app", "prod"); !jsonEqual(t, out, []byte(`{"stage":"prod"}`)) {
		t.Fatalf("prod output = %s", out)
	}
}

func TestStacksStagesAndDeleteStage(t *testing.T) {
	s := NewLocal(t.TempDir())
	if st, err := s.Stacks(ctx); err != nil || len(st) != 0 {
		t.Fatalf("Stacks of an empty store = %v, %v", st, err)
	}
	for _, p := range [][2]string{{"b-app", "prod"}, {"a-app", "dev"}, {"b-app", "dev"}} {
		if err := s.Set(ctx, p[0], p[1], newRow("R", Created)); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(s.Root, "stray-file"), nil, 0o600)
	if st, _ := s.Stacks(ctx); !reflect.DeepEqual(st, []string{"a-app", "b-app"}) {
		t.Fatalf("Stacks = %q", st)
	}
	if st, _ := s.Stages(ctx, "b-app"); !reflect.DeepEqual(st, []string{"dev", "prod"}) {
		t.Fatalf("Stages = %q", st)
	}
	if st, err := s.Stages(ctx, "nope"); err != nil || len(st) != 0 {
		t.Fatalf("Stages of a missing stack = %v, %v", st, err)
	}

	// Deleting a stage removes its output too (#961) and keeps the stack
	// while another stage remains; the last stage takes the stack with it.
	s.SetOutput(ctx, "b-app", "dev", json.RawMessage(`{"url":"x"}`))
	if err := s.DeleteStage(ctx, "b-app", "dev"); err != nil {
		t.Fatal(err)
	}
	if out, err := s.GetOutput(ctx, "b-app", "dev"); out != nil || err != nil {
		t.Fatalf("output survived DeleteStage: %s %v", out, err)
	}
	if st, _ := s.Stages(ctx, "b-app"); !reflect.DeepEqual(st, []string{"prod"}) {
		t.Fatalf("Stages after DeleteStage = %q", st)
	}
	if err := s.DeleteStage(ctx, "b-app", "prod"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(s.Root, "b-app")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("empty stack dir not pruned: %v", err)
	}
	if err := s.DeleteStage(ctx, "b-app", "prod"); err != nil {
		t.Fatalf("DeleteStage of a missing stage: %v", err)
	}
	// The store re-creates a stage deleted under it, here or by another process.
	if err := s.Set(ctx, "a-app", "dev", newRow("R2", Created)); err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(filepath.Join(s.Root, "a-app"))
	if err := s.Set(ctx, "a-app", "dev", newRow("R3", Created)); err != nil {
		t.Fatalf("Set after the stage dir was removed: %v", err)
	}
	if got := mustList(t, s, "a-app", "dev"); !reflect.DeepEqual(got, []string{"R3"}) {
		t.Fatalf("List = %q", got)
	}
}

func TestOutput(t *testing.T) {
	s := NewLocal(t.TempDir())
	if out, err := s.GetOutput(ctx, "app", "dev"); out != nil || err != nil {
		t.Fatalf("missing output = %s, %v", out, err)
	}
	if err := s.SetOutput(ctx, "app", "dev", json.RawMessage(`{"url":"https://x/?a=1&b=<2>","n":[1,2]}`)); err != nil {
		t.Fatal(err)
	}
	s.Flush(ctx)
	data, _ := os.ReadFile(filepath.Join(s.Root, "app", "dev", "__stack_output__.json"))
	if !strings.Contains(string(data), "\n  \"url\": \"https://x/?a=1&b=<2>\"") {
		t.Fatalf("output file:\n%s", data)
	}
	if got := mustList(t, s, "app", "dev"); len(got) != 0 {
		t.Fatalf("List includes the output record: %q", got)
	}
	out, err := s.GetOutput(ctx, "app", "dev")
	if err != nil || !jsonEqual(t, out, []byte(`{"url":"https://x/?a=1&b=<2>","n":[1,2]}`)) {
		t.Fatalf("GetOutput = %s, %v", out, err)
	}
	if err := s.SetOutput(ctx, "app", "dev", json.RawMessage(`{bad`)); err == nil {
		t.Fatal("invalid output accepted")
	}
	if err := s.SetOutput(ctx, "app", "dev", nil); err != nil {
		t.Fatal(err)
	}
	if out, _ := s.GetOutput(ctx, "app", "dev"); out != nil {
		t.Fatalf("SetOutput(nil) kept %s", out)
	}
	s.Flush(ctx)
	os.WriteFile(filepath.Join(s.Root, "app", "dev", "__stack_output__.json"), []byte(`{"x":`), 0o600)
	_, err = s.GetOutput(ctx, "app", "dev")
	var ce *CorruptError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "__stack_output__.json is not valid JSON") {
		t.Fatalf("corrupt output: %v", err)
	}
}

func TestLegacyFileNames(t *testing.T) {
	s := NewLocal(t.TempDir())
	dir := filepath.Join(s.Root, "app", "dev")
	os.MkdirAll(dir, 0o700)
	legacy := filepath.Join(dir, "Api__my_bucket.json") // "/" -> "__" only
	old := newRow("Api/my_bucket", Created)
	data, _ := json.Marshal(old)
	os.WriteFile(legacy, data, 0o600)

	if got := mustList(t, s, "app", "dev"); !reflect.DeepEqual(got, []string{"Api/my_bucket"}) {
		t.Fatalf("List = %q", got)
	}
	row, err := s.Get(ctx, "app", "dev", "Api/my_bucket")
	if err != nil || row == nil || row.InstanceID != old.InstanceID {
		t.Fatalf("legacy row not read: %+v, %v", row, err)
	}
	row.Status = Updated
	if err := s.Set(ctx, "app", "dev", row); err != nil {
		t.Fatal(err)
	}
	if got := mustList(t, s, "app", "dev"); !reflect.DeepEqual(got, []string{"Api/my_bucket"}) {
		t.Fatalf("List before flush = %q", got)
	}
	s.Flush(ctx)
	if _, err := os.Stat(legacy); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("legacy file not removed on write: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "Api__my%5Fbucket.json")); err != nil {
		t.Fatal(err)
	}
	if got := mustList(t, s, "app", "dev"); !reflect.DeepEqual(got, []string{"Api/my_bucket"}) {
		t.Fatalf("List = %q", got)
	}

	// Both names present (a crash between write and cleanup): the new one
	// wins and List reports the FQN once; Delete removes both.
	os.WriteFile(legacy, data, 0o600)
	if got := mustList(t, s, "app", "dev"); !reflect.DeepEqual(got, []string{"Api/my_bucket"}) {
		t.Fatalf("List = %q", got)
	}
	if row, _ := s.Get(ctx, "app", "dev", "Api/my_bucket"); row.Status != Updated {
		t.Fatalf("read the legacy file over the new one: %s", row.Status)
	}
	if err := s.Delete(ctx, "app", "dev", "Api/my_bucket"); err != nil {
		t.Fatal(err)
	}
	if got := mustList(t, s, "app", "dev"); len(got) != 0 {
		t.Fatalf("List after Delete = %q", got)
	}
	s.Flush(ctx)
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("left after Delete: %v", entries)
	}

	// A legacy name that is another FQN's current name stays that FQN's row:
	// writing "a__b" must not delete the row of "a/b".
	if err := s.Set(ctx, "app", "dev", newRow("a/b", Created)); err != nil {
		t.Fatal(err)
	}
	if row, _ := s.Get(ctx, "app", "dev", "a__b"); row != nil {
		t.Fatalf(`Get("a__b") read the row of "a/b"`)
	}
	if err := s.Set(ctx, "app", "dev", newRow("a__b", Created)); err != nil {
		t.Fatal(err)
	}
	if got := mustList(t, s, "app", "dev"); !reflect.DeepEqual(got, []string{"a/b", "a__b"}) {
		t.Fatalf("List = %q", got)
	}
}

func TestUnusableFilesAreErrors(t *testing.T) {
	s := NewLocal(t.TempDir())
	dir := filepath.Join(s.Root, "app", "dev")
	os.MkdirAll(dir, 0o700)
	// An empty row: the remains of a crash. Read as "absent", a deploy would
	// create a second resource and orphan the first.
	os.WriteFile(filepath.Join(dir, "Empty.json"), nil, 0o600)
	var ce *CorruptError
	if row, err := s.Get(ctx, "app", "dev", "Empty"); row != nil || !errors.As(err, &ce) || !strings.Contains(err.Error(), "is empty") {
		t.Fatalf("Get of a zero-length row = %v, %v", row, err)
	}
	if _, err := LoadAll(ctx, s, "app", "dev"); !errors.As(err, &ce) || ce.FQN != "Empty" {
		t.Fatalf("LoadAll = %v", err)
	}
	os.Remove(filepath.Join(dir, "Empty.json"))
	os.WriteFile(filepath.Join(dir, "__stack_output__.json"), nil, 0o600)
	if out, err := s.GetOutput(ctx, "app", "dev"); out != nil || !errors.As(err, &ce) {
		t.Fatalf("GetOutput of a zero-length file = %s, %v", out, err)
	}
	os.Remove(filepath.Join(dir, "__stack_output__.json"))

	// A directory where a row belongs.
	os.Mkdir(filepath.Join(dir, "Dir.json"), 0o700)
	if got, err := s.List(ctx, "app", "dev"); !errors.As(err, &ce) || !strings.Contains(err.Error(), "is a directory") {
		t.Fatalf("List with a directory row = %v, %v", got, err)
	}
	if row, err := s.Get(ctx, "app", "dev", "Dir"); row != nil || !errors.As(err, &ce) {
		t.Fatalf("Get of a directory row = %v, %v", row, err)
	}
}

func TestCorruptRowIsAnError(t *testing.T) {
	s := NewLocal(t.TempDir())
	dir := filepath.Join(s.Root, "app", "dev")
	os.MkdirAll(dir, 0o700)
	for _, tc := range []struct{ content, problem string }{
		{`{"fqn": "Api/Bucket", "status": "crea`, "is not valid JSON: unexpected end of JSON input"},
		{`garbage`, "is not valid JSON: invalid character"},
		{`[1, 2]`, "is not a valid state row: json: cannot unmarshal array"},
		{`{"fqn": "Api/Bucket", "downstream": "x"}`, `is not a valid state row: field "downstream"`},
		{`null`, "is not a valid state row: it is null"},
		{`{"fqn": "Api/Bucket", "resourceType": "T", "downstream": []}`, "is not a valid state row: it has no status"},
		{`{"fqn": "Api/Bucket", "resourceType": "T", "status": "exploded"}`, `is not a valid state row: its status "exploded" is not one this alchemy knows`},
		{`{"fqn": "Api/Bucket", "status": "created"}`, "is not a valid state row: it has no resourceType"},
	} {
		path := filepath.Join(dir, "Api__Bucket.json")
		os.WriteFile(path, []byte(tc.content), 0o600)
		row, err := s.Get(ctx, "app", "dev", "Api/Bucket")
		var ce *CorruptError
		if row != nil || !errors.As(err, &ce) {
			t.Fatalf("%s: Get = %v, %v", tc.content, row, err)
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "state row "+path+" "+tc.problem) ||
			!strings.Contains(msg, "Nothing was changed.") || !strings.Contains(msg, "`alchemy state delete app/dev/Api/Bucket --yes`") {
			t.Errorf("%s: message %q", tc.content, msg)
		}
		if _, err := LoadAll(ctx, s, "app", "dev"); !errors.As(err, &ce) {
			t.Errorf("%s: LoadAll = %v", tc.content, err)
		}
	}
}

func TestListSkipsNonRows(t *testing.T) {
	s := NewLocal(t.TempDir())
	if err := s.Set(ctx, "app", "dev", newRow(".dotted", Created)); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(s.Root, "app", "dev")
	for _, n := range []string{".R.json.tmp-123", "notes.txt", "__stack_output__.json", "R.json.bak"} {
		os.WriteFile(filepath.Join(dir, n), []byte("{}"), 0o600)
	}
	os.Mkdir(filepath.Join(dir, "sub"), 0o700)
	if got := mustList(t, s, "app", "dev"); !reflect.DeepEqual(got, []string{".dotted"}) {
		t.Fatalf("List = %q", got)
	}
}

func TestUnreadableStageIsAnError(t *testing.T) {
	s := NewLocal(t.TempDir())
	os.MkdirAll(filepath.Join(s.Root, "app"), 0o700)
	// A stage path that exists but is not a listable directory (a chmod 000
	// directory would do too, but not for root, who runs CI here).
	os.WriteFile(filepath.Join(s.Root, "app", "dev"), []byte("x"), 0o600)
	if fqns, err := s.List(ctx, "app", "dev"); err == nil {
		t.Fatalf("List of an unreadable stage = %v, nil", fqns)
	}
	if _, err := LoadAll(ctx, s, "app", "dev"); err == nil {
		t.Fatal("LoadAll of an unreadable stage succeeded")
	}
}

func TestInvalidSegments(t *testing.T) {
	s := NewLocal(t.TempDir())
	for _, seg := range []string{"", ".", "..", "a/b", `a\b`, "../x", "a\x00"} {
		if err := s.Set(ctx, seg, "dev", newRow("R", Created)); err == nil || !strings.Contains(err.Error(), "invalid stack name") {
			t.Errorf("stack %q: %v", seg, err)
		}
		if _, err := s.List(ctx, "app", seg); err == nil || !strings.Contains(err.Error(), "invalid stage name") {
			t.Errorf("stage %q: %v", seg, err)
		}
		if _, err := s.Stages(ctx, seg); err == nil {
			t.Errorf("Stages(%q) accepted", seg)
		}
		if err := s.DeleteStage(ctx, "app", seg); err == nil {
			t.Errorf("DeleteStage(%q) accepted", seg)
		}
	}
	if entries, _ := os.ReadDir(s.Root); len(entries) != 0 {
		t.Fatalf("invalid names touched the disk: %v", entries)
	}
	if err := s.Set(ctx, "app", "dev", &Row{}); err == nil {
		t.Error("a row without FQN accepted")
	}
}

func TestLoadAll(t *testing.T) {
	s := NewLocal(t.TempDir())
	for i := range 100 {
		if err := s.Set(ctx, "app", "dev", newRow(fmt.Sprintf("ns/r_%03d", i), Created)); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := LoadAll(ctx, s, "app", "dev")
	if err != nil || len(rows) != 100 {
		t.Fatalf("LoadAll: %d rows, %v", len(rows), err)
	}
	for fqn, row := range rows {
		if row.FQN != fqn {
			t.Fatalf("%s -> %s", fqn, row.FQN)
		}
	}
	if rows, err := LoadAll(ctx, s, "app", "empty"); err != nil || len(rows) != 0 {
		t.Fatalf("LoadAll of an empty stage = %v, %v", rows, err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := LoadAll(cctx, s, "app", "dev"); !errors.Is(err, context.Canceled) {
		t.Fatalf("LoadAll with a cancelled context: %v", err)
	}
}

func TestNewLocalAnchorsRelativeRoot(t *testing.T) {
	t.Chdir(t.TempDir())
	s := NewLocal(filepath.Join(".alchemy", "state"))
	if !filepath.IsAbs(s.Root) {
		t.Fatalf("Root = %s", s.Root)
	}
}

// Concurrent Sets share directory fsyncs, and each waits for one that started
// after its own rename.
func TestDirSyncerGroupsConcurrentCallers(t *testing.T) {
	dir := t.TempDir()
	var s dirSyncer
	const callers = 64
	done := make(chan error, callers)
	for range callers {
		go func() { done <- s.sync(dir) }()
	}
	for range callers {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running || s.done != s.started || s.started == 0 || s.started > callers {
		t.Fatalf("started %d, done %d, running %v", s.started, s.done, s.running)
	}
	t.Logf("%d callers, %d fsyncs", callers, s.started)
}

// GetAll reads what List and a Get of each row read: files, legacy names,
// the writer's pending commits and a journal another writer left.
func TestGetAllReadsWhatGetReads(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "app", "dev")
	w := NewLocal(root)
	for i := range 30 {
		if err := w.Set(ctx, "app", "dev", newRow(fmt.Sprintf("ns/r_%02d", i), Created)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// A legacy file, one shadowed by its current name, and changes only in
	// the journal: updated, deleted, new.
	legacy := newRow("old/style", Created)
	data, _ := marshalIndent(legacy)
	os.WriteFile(filepath.Join(dir, "old__style.json"), data, 0o600)
	shadowed := newRow("ns/r_00", Updated)
	data, _ = marshalIndent(shadowed)
	os.WriteFile(filepath.Join(dir, "ns__r_00.json"), data, 0o600)
	for i := range 10 {
		fqn := fmt.Sprintf("ns/r_%02d", i)
		switch i % 3 {
		case 0:
			if err := w.Set(ctx, "app", "dev", newRow(fqn, Updating)); err != nil {
				t.Fatal(err)
			}
		case 1:
			if err := w.Delete(ctx, "app", "dev", fqn); err != nil {
				t.Fatal(err)
			}
		case 2:
			if err := w.Set(ctx, "app", "dev", newRow(fqn+"_new", Creating)); err != nil {
				t.Fatal(err)
			}
		}
	}
	compare := func(what string, s *Local) {
		t.Helper()
		fqns, err := s.List(ctx, "app", "dev")
		if err != nil {
			t.Fatal(err)
		}
		each := map[string]*Row{}
		for _, fqn := range fqns {
			row, err := s.Get(ctx, "app", "dev", fqn)
			if err != nil {
				t.Fatal(err)
			}
			if row != nil {
				each[fqn] = row
			}
		}
		all, err := s.GetAll(ctx, "app", "dev")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(all, each) {
			t.Fatalf("%s: GetAll read %d rows, List and Get %d", what, len(all), len(each))
		}
		if len(all) < 30 {
			t.Fatalf("%s: only %d rows", what, len(all))
		}
	}
	compare("the writer", w)
	compare("another process, with the writer's journal", NewLocal(root))
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	compare("after the flush", NewLocal(root))
}
