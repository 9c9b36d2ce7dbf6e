package aws_test

import (
	"context"
	"errors"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/alchemy-go/alchemy"
	"github.com/alchemy-go/alchemy/aws"
	"github.com/alchemy-go/alchemy/internal/cli"
	"github.com/alchemy-go/alchemy/internal/fakes/awsiam"
	"github.com/alchemy-go/alchemy/internal/stacktest"
	"github.com/alchemy-go/alchemy/internal/testpeers"
	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
)

const (
	lambdaTrust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	ec2Trust    = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	readPolicy  = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`
	logsPolicy  = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"logs:*","Resource":"*"}]}`
	readOnlyArn = "arn:aws:iam::aws:policy/ReadOnlyAccess"
	lambdaArn   = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
)

type roleConfig struct {
	present  bool
	name     string
	trust    string
	desc     string
	inline   map[string]string
	managed  []string
	tags     map[string]string
	maxHours int
}

func roleStack(c *roleConfig) *cli.StackProgram {
	return stacktest.Program("iamtest", func(s *alchemy.Stack) {
		if !c.present {
			return
		}
		props := aws.IAMRoleProps{
			AssumeRolePolicy:  alchemy.String(c.trust),
			InlinePolicies:    alchemy.V(c.inline),
			ManagedPolicyArns: alchemy.V(c.managed),
			Tags:              alchemy.V(c.tags),
		}
		if c.name != "" {
			props.RoleName = alchemy.String(c.name)
		}
		if c.desc != "" {
			props.Description = alchemy.String(c.desc)
		}
		if c.maxHours != 0 {
			props.MaxSessionDuration = alchemy.Int(c.maxHours * 3600)
		}
		r := aws.NewIAMRole(s, "Role", props)
		s.Output("roleName", r.RoleName)
		s.Output("roleArn", r.Arn)
		s.Output("roleId", r.RoleID)
	})
}

// startIAM starts emulate with the policy fake in front of it and points
// AWS_ENDPOINT_URL_IAM at the fake.
func startIAM(t *testing.T) (*awsiam.Server, *iam.Client) {
	t.Helper()
	peer := testpeers.Emulate(t)
	fake := awsiam.Start(t, peer.IAMEndpoint())
	awsTestEnv(t, map[string]string{"AWS_ENDPOINT_URL_IAM": fake.URL})
	return fake, iam.NewFromConfig(sdkConfig(t))
}

func roleNames(t *testing.T, c *iam.Client) []string {
	t.Helper()
	out, err := c.ListRoles(context.Background(), &iam.ListRolesInput{})
	if err != nil {
		t.Fatalf("ListRoles: %v", err)
	}
	var names []string
	for _, r := range out.Roles {
		names = append(names, sdkaws.ToString(r.RoleName))
	}
	slices.Sort(names)
	return names
}

// roleView is a role as seen through the SDK.
type roleView struct {
	role    *types.Role
	trust   string
	inline  map[string]string
	managed []string
	tags    map[string]string
}

func viewRole(t *testing.T, c *iam.Client, name string) roleView {
	t.Helper()
	ctx := context.Background()
	g, err := c.GetRole(ctx, &iam.GetRoleInput{RoleName: &name})
	if err != nil {
		t.Fatalf("GetRole %s: %v", name, err)
	}
	v := roleView{role: g.Role, inline: map[string]string{}, tags: map[string]string{}}
	v.trust, _ = url.QueryUnescape(sdkaws.ToString(g.Role.AssumeRolePolicyDocument))
	lp, err := c.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: &name})
	if err != nil {
		t.Fatalf("ListRolePolicies %s: %v", name, err)
	}
	for _, pn := range lp.PolicyNames {
		gp, err := c.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: &name, PolicyName: &pn})
		if err != nil {
			t.Fatalf("GetRolePolicy %s %s: %v", name, pn, err)
		}
		v.inline[pn], _ = url.QueryUnescape(sdkaws.ToString(gp.PolicyDocument))
	}
	la, err := c.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: &name})
	if err != nil {
		t.Fatalf("ListAttachedRolePolicies %s: %v", name, err)
	}
	for _, a := range la.AttachedPolicies {
		v.managed = append(v.managed, sdkaws.ToString(a.PolicyArn))
	}
	slices.Sort(v.managed)
	lt, err := c.ListRoleTags(ctx, &iam.ListRoleTagsInput{RoleName: &name})
	if err != nil {
		t.Fatalf("ListRoleTags %s: %v", name, err)
	}
	for _, tg := range lt.Tags {
		v.tags[sdkaws.ToString(tg.Key)] = sdkaws.ToString(tg.Value)
	}
	return v
}

func TestIAMRoleLifecycle(t *testing.T) {
	fake, c := startIAM(t)
	cfg := &roleConfig{present: true, trust: lambdaTrust, desc: "first", maxHours: 2,
		inline: map[string]string{"read": readPolicy}, managed: []string{readOnlyArn}, tags: map[string]string{"team": "a"}}

	// Create.
	r := mustRun(t, roleStack(cfg), "deploy", "--yes")
	names := roleNames(t, c)
	if len(names) != 1 || !strings.HasPrefix(names[0], "iamtest-Role-dev-tester-") || len(names[0]) > 64 {
		t.Fatalf("roles after create: %v", names)
	}
	name := names[0]
	v := viewRole(t, c, name)
	if !strings.Contains(r.out, "roleName: "+name) || !strings.Contains(r.out, "roleArn: "+sdkaws.ToString(v.role.Arn)) ||
		!strings.Contains(r.out, "roleId: "+sdkaws.ToString(v.role.RoleId)) {
		t.Errorf("outputs lack the role's name, ARN and id:\n%s", r.out)
	}
	if v.trust != lambdaTrust || sdkaws.ToString(v.role.Description) != "first" || sdkaws.ToInt32(v.role.MaxSessionDuration) != 7200 {
		t.Errorf("role after create: trust %s, %+v", v.trust, v.role)
	}
	if len(v.inline) != 1 || v.inline["read"] != readPolicy {
		t.Errorf("inline policies after create: %v", v.inline)
	}
	if !slices.Equal(v.managed, []string{readOnlyArn}) {
		t.Errorf("managed policies after create: %v", v.managed)
	}
	checkTags(t, "Role", v.tags, map[string]string{"team": "a", "alchemy::stack": "iamtest", "alchemy::stage": "dev_tester", "alchemy::id": "Role"})
	if len(v.tags) != 4 {
		t.Errorf("tags after create: %v", v.tags)
	}

	// No-op re-deploy: no write call reaches IAM.
	fake.ResetCalls()
	r = mustRun(t, roleStack(cfg), "deploy", "--yes")
	if !strings.Contains(r.out, "Plan: no changes") {
		t.Errorf("re-deploy was not a no-op:\n%s", r.out)
	}
	if n := fake.Writes(); n != 0 {
		t.Errorf("no-op deploy made %d IAM writes: %v", n, fake.AllCalls())
	}

	// Update in place: trust policy, description, inline policy added and
	// one removed, managed policy detached and another attached, tags.
	cfg.trust, cfg.desc, cfg.maxHours = ec2Trust, "second", 0
	cfg.inline = map[string]string{"logs": logsPolicy}
	cfg.managed = []string{lambdaArn}
	cfg.tags = map[string]string{"owner": "b"}
	fake.ResetCalls()
	r = mustRun(t, roleStack(cfg), "deploy", "--yes")
	if !strings.Contains(r.out, "Plan: 1 to update") {
		t.Errorf("change is not an update:\n%s", r.out)
	}
	if fake.Calls("CreateRole") != 0 || fake.Calls("DeleteRole") != 0 {
		t.Errorf("update re-created the role: %v", fake.AllCalls())
	}
	if got := roleNames(t, c); !slices.Equal(got, []string{name}) {
		t.Fatalf("roles after update: %v", got)
	}
	v = viewRole(t, c, name)
	if v.trust != ec2Trust || sdkaws.ToString(v.role.Description) != "second" || sdkaws.ToInt32(v.role.MaxSessionDuration) != 3600 {
		t.Errorf("role after update: trust %s, %+v", v.trust, v.role)
	}
	if len(v.inline) != 1 || v.inline["logs"] != logsPolicy {
		t.Errorf("inline policies after update: %v", v.inline)
	}
	if !slices.Equal(v.managed, []string{lambdaArn}) {
		t.Errorf("managed policies after update: %v", v.managed)
	}
	if v.tags["owner"] != "b" || v.tags["team"] != "" || v.tags["alchemy::id"] != "Role" || len(v.tags) != 4 {
		t.Errorf("tags after update: %v", v.tags)
	}

	// Managed policy detached only.
	cfg.managed = nil
	fake.ResetCalls()
	mustRun(t, roleStack(cfg), "deploy", "--yes")
	if v = viewRole(t, c, name); len(v.managed) != 0 || fake.Calls("DetachRolePolicy") != 1 || fake.Calls("AttachRolePolicy") != 0 {
		t.Errorf("after detaching: managed %v, calls %v", v.managed, fake.AllCalls())
	}

	// Replace by name: the new role is complete, the old one gone.
	cfg.name = "iamtest-renamed"
	cfg.managed = []string{readOnlyArn}
	r = mustRun(t, roleStack(cfg), "deploy", "--yes")
	if !strings.Contains(r.out, "Plan: 1 to replace") {
		t.Errorf("name change is not a replace:\n%s", r.out)
	}
	if got := roleNames(t, c); !slices.Equal(got, []string{"iamtest-renamed"}) {
		t.Fatalf("roles after replace: %v", got)
	}
	v = viewRole(t, c, "iamtest-renamed")
	if v.trust != ec2Trust || v.inline["logs"] != logsPolicy || !slices.Equal(v.managed, []string{readOnlyArn}) || v.tags["alchemy::id"] != "Role" {
		t.Errorf("replacement: %+v", v)
	}

	// Removal deletes it, detaching and deleting its policies first (the
	// fake, like IAM, refuses DeleteRole with DeleteConflict otherwise).
	cfg.present = false
	fake.ResetCalls()
	mustRun(t, roleStack(cfg), "deploy", "--yes")
	if got := roleNames(t, c); len(got) != 0 {
		t.Fatalf("roles after removal: %v", got)
	}
	if fake.Calls("DetachRolePolicy") != 1 || fake.Calls("DeleteRolePolicy") != 1 || fake.Calls("DeleteRole") != 1 {
		t.Errorf("removal calls: %v", fake.AllCalls())
	}
	if _, err := os.Stat(filepath.Join(".alchemy", "state", "iamtest", "dev_tester")); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
}

// Destroy succeeds when the role was deleted behind alchemy's back.
func TestIAMRoleDestroyAfterExternalDelete(t *testing.T) {
	_, c := startIAM(t)
	cfg := &roleConfig{present: true, name: "iamtest-gone", trust: lambdaTrust,
		inline: map[string]string{"read": readPolicy}, managed: []string{readOnlyArn}}
	mustRun(t, roleStack(cfg), "deploy", "--yes")
	ctx := context.Background()
	name := cfg.name
	if _, err := c.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: &name, PolicyArn: sdkaws.String(readOnlyArn)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: &name, PolicyName: sdkaws.String("read")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: &name}); err != nil {
		t.Fatal(err)
	}
	mustRun(t, roleStack(cfg), "destroy", "--yes")
	if _, err := os.Stat(filepath.Join(".alchemy", "state", "iamtest", "dev_tester")); !os.IsNotExist(err) {
		t.Fatalf("destroy left state: %v", err)
	}
}

// A role with the chosen name that is someone else's is refused without
// --adopt, and cleaning up the failed create leaves it alone; with --adopt
// it is taken over and brought to the declared state.
func TestIAMRoleOfSomeoneElse(t *testing.T) {
	fake, c := startIAM(t)
	ctx := context.Background()
	name := "theirs"
	if _, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: &name, AssumeRolePolicyDocument: sdkaws.String(ec2Trust),
		Tags: []types.Tag{{Key: sdkaws.String("owner"), Value: sdkaws.String("them")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: &name, PolicyName: sdkaws.String("theirs"), PolicyDocument: sdkaws.String(logsPolicy)}); err != nil {
		t.Fatal(err)
	}
	cfg := &roleConfig{present: true, name: name, trust: lambdaTrust, inline: map[string]string{"read": readPolicy}}
	fake.ResetCalls()
	r := run(t, roleStack(cfg), "deploy", "--yes")
	wantRefused(t, r, "Role", "AWS.IAM.Role", "role theirs", "")
	if n := fake.Writes(); n != 0 {
		t.Errorf("the refused deploy made %d IAM writes: %v", n, fake.AllCalls())
	}
	wantContains(t, mustRun(t, roleStack(cfg), "plan"), "Plan: 1 to create")
	if r := run(t, roleStack(cfg), "destroy", "--yes"); r.code != 0 {
		t.Fatalf("destroy: %d %s", r.code, r.errOut)
	}
	v := viewRole(t, c, name)
	if v.trust != ec2Trust || v.inline["theirs"] != logsPolicy || len(v.inline) != 1 || v.tags["owner"] != "them" || len(v.tags) != 1 {
		t.Fatalf("someone else's role was changed: %+v", v)
	}

	// With --adopt: taken over, their inline policy replaced by ours.
	r = mustRun(t, roleStack(cfg), "deploy", "--yes", "--adopt")
	wantContains(t, r, "role theirs already exists: taking it over (--adopt)")
	v = viewRole(t, c, name)
	if v.trust != lambdaTrust || len(v.inline) != 1 || v.inline["read"] != readPolicy {
		t.Errorf("adopted role: %+v", v)
	}
	if want := map[string]string{"alchemy::stack": "iamtest", "alchemy::stage": "dev_tester", "alchemy::id": "Role"}; !maps.Equal(v.tags, want) {
		t.Errorf("adopted role's tags %v, want %v", v.tags, want)
	}
	wantContains(t, mustRun(t, roleStack(cfg), "plan"), "Plan: no changes")
	mustRun(t, roleStack(cfg), "destroy", "--yes")
	_, err := c.GetRole(ctx, &iam.GetRoleInput{RoleName: &name})
	if !errors.As(err, new(*types.NoSuchEntityException)) {
		t.Errorf("adopted role after destroy: %v", err)
	}
}

// A role stamped by another stage of the same stack is that stage's: it is
// refused, naming that owner.
func TestIAMRoleOfAnotherStage(t *testing.T) {
	_, c := startIAM(t)
	name := "iamtest-prod"
	prod := map[string]string{"alchemy::stack": "iamtest", "alchemy::stage": "prod", "alchemy::id": "Role"}
	var tags []types.Tag
	for k, v := range prod {
		tags = append(tags, types.Tag{Key: sdkaws.String(k), Value: sdkaws.String(v)})
	}
	if _, err := c.CreateRole(context.Background(), &iam.CreateRoleInput{RoleName: &name, AssumeRolePolicyDocument: sdkaws.String(ec2Trust), Tags: tags}); err != nil {
		t.Fatal(err)
	}
	r := run(t, roleStack(&roleConfig{present: true, name: name, trust: lambdaTrust}), "deploy", "--yes")
	wantRefused(t, r, "Role", "AWS.IAM.Role", "role "+name, "iamtest/prod/Role")
	if v := viewRole(t, c, name); v.trust != ec2Trust || !maps.Equal(v.tags, prod) {
		t.Errorf("the other stage's role changed: %+v", v)
	}
}

// A create interrupted after CreateRole leaves a claimed row without
// attributes: the next deploy takes the role over (its tags missing, here
// removed behind alchemy's back) and completes it. Unclaimed, the row
// proves nothing: refused.
func TestIAMRoleInterruptedCreate(t *testing.T) {
	_, c := startIAM(t)
	ctx := context.Background()
	for _, name := range []string{"iamtest-unclaimed", "iamtest-claimed"} {
		if _, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: sdkaws.String(name), AssumeRolePolicyDocument: sdkaws.String(lambdaTrust)}); err != nil {
			t.Fatal(err)
		}
	}
	props := func(name string) map[string]any {
		return map[string]any{"roleName": name, "assumeRolePolicy": lambdaTrust, "inlinePolicies": map[string]string{"read": readPolicy}}
	}
	cfg := &roleConfig{present: true, name: "iamtest-unclaimed", trust: lambdaTrust, inline: map[string]string{"read": readPolicy}}
	putRow(t, "iamtest", interruptedRow("AWS.IAM.Role", "Role", props(cfg.name), false))
	wantRefused(t, run(t, roleStack(cfg), "deploy", "--yes"), "Role", "AWS.IAM.Role", "role iamtest-unclaimed", "")
	mustRun(t, roleStack(cfg), "destroy", "--yes")
	if v := viewRole(t, c, "iamtest-unclaimed"); len(v.inline) != 0 || len(v.tags) != 0 {
		t.Fatalf("the unclaimed role changed: %+v", v)
	}

	cfg.name = "iamtest-claimed"
	putRow(t, "iamtest", interruptedRow("AWS.IAM.Role", "Role", props(cfg.name), true))
	r := mustRun(t, roleStack(cfg), "deploy", "--yes")
	wantContains(t, r, "role iamtest-claimed is the one an interrupted create of this resource made: taking it over")
	v := viewRole(t, c, "iamtest-claimed")
	if v.inline["read"] != readPolicy || v.tags["alchemy::id"] != "Role" || v.tags["alchemy::stage"] != "dev_tester" {
		t.Errorf("resumed role: %+v", v)
	}
	mustRun(t, roleStack(cfg), "destroy", "--yes")
	if names := roleNames(t, c); !slices.Equal(names, []string{"iamtest-unclaimed"}) {
		t.Fatalf("roles after destroy: %v", names)
	}
}
