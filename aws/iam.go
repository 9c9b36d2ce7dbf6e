package aws

import (
	"context"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"

	"github.com/alchemy-go/alchemy"
	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
)

func init() {
	alchemy.Register[IAMRoleArgs, IAMRoleAttrs](roleProvider{})
}

// IAMRoleProps declares an IAM role.
type IAMRoleProps struct {
	// RoleName is the role's name (at most 64 characters). Default: a
	// physical name unique to the stack, id, stage and generation. Changing
	// it replaces the role.
	RoleName alchemy.Input[string] `json:"roleName"`
	// AssumeRolePolicy is the trust policy (JSON document). Required.
	AssumeRolePolicy alchemy.Input[string] `json:"assumeRolePolicy"`
	// Description of the role.
	Description alchemy.Input[string] `json:"description"`
	// MaxSessionDuration in seconds (3600 to 43200). Default 3600.
	MaxSessionDuration alchemy.Input[int] `json:"maxSessionDuration"`
	// InlinePolicies are the role's inline policies: name -> JSON document.
	InlinePolicies alchemy.Input[map[string]string] `json:"inlinePolicies"`
	// ManagedPolicyArns are the ARNs of the managed policies attached.
	ManagedPolicyArns alchemy.Input[[]string] `json:"managedPolicyArns"`
	// Tags are added to the ownership tags (alchemy::stack, alchemy::stage,
	// alchemy::id). Keys starting with alchemy:: are refused.
	Tags alchemy.Input[map[string]string] `json:"tags"`
}

// IAMRoleArgs are a role's resolved props.
type IAMRoleArgs struct {
	RoleName           string            `json:"roleName,omitempty"`
	AssumeRolePolicy   string            `json:"assumeRolePolicy,omitempty"`
	Description        string            `json:"description,omitempty"`
	MaxSessionDuration int               `json:"maxSessionDuration,omitempty"`
	InlinePolicies     map[string]string `json:"inlinePolicies,omitempty"`
	ManagedPolicyArns  []string          `json:"managedPolicyArns,omitempty"`
	Tags               map[string]string `json:"tags,omitempty"`
}

// IAMRoleAttrs are what a deployed role publishes.
type IAMRoleAttrs struct {
	RoleName string `json:"roleName"`
	Arn      string `json:"arn"`
	RoleID   string `json:"roleId"`
}

// IAMRole is a declared role.
type IAMRole struct {
	*alchemy.Resource
	RoleName alchemy.Output[string]
	Arn      alchemy.Output[string]
	RoleID   alchemy.Output[string]
}

// NewIAMRole declares an IAM role (type AWS.IAM.Role) with its inline
// policies and attached managed policies. Removing it from the stack
// detaches the managed policies, deletes the inline ones and then the role.
func NewIAMRole(s *alchemy.Stack, id string, props IAMRoleProps, opts ...alchemy.Option) *IAMRole {
	r := alchemy.Declare[IAMRoleArgs, IAMRoleAttrs](s, roleProvider{}, id, props, opts...)
	return &IAMRole{Resource: r,
		RoleName: alchemy.Attr[string](r, "roleName"),
		Arn:      alchemy.Attr[string](r, "arn"),
		RoleID:   alchemy.Attr[string](r, "roleId")}
}

type roleRequest = alchemy.Request[IAMRoleArgs, IAMRoleAttrs]

type roleProvider struct{}

func (roleProvider) Type() string        { return "AWS.IAM.Role" }
func (roleProvider) ReportsWrites() bool { return true } // writes no local file (alchemy.WriteReporter)
func (roleProvider) Auth() string        { return authName }
func (roleProvider) ReplaceOn() []string { return []string{"roleName"} }

const defaultMaxSessionDuration = 3600

func roleName(r *roleRequest, p IAMRoleArgs) string {
	if p.RoleName != "" {
		return p.RoleName
	}
	return r.PhysicalName(64, false)
}

func validateRole(p IAMRoleArgs) error {
	if err := checkUserTags(p.Tags); err != nil {
		return err
	}
	if len(p.RoleName) > 64 {
		return fmt.Errorf("roleName %q: at most 64 characters", p.RoleName)
	}
	if p.AssumeRolePolicy == "" {
		return fmt.Errorf("assumeRolePolicy is required")
	}
	if m := p.MaxSessionDuration; m != 0 && (m < 3600 || m > 43200) {
		return fmt.Errorf("maxSessionDuration %d: must be 3600 to 43200 seconds", m)
	}
	for n, doc := range p.InlinePolicies {
		if n == "" || doc == "" {
			return fmt.Errorf("inlinePolicies: name %q: name and document must not be empty", n)
		}
	}
	return nil
}

func maxSession(p IAMRoleArgs) int {
	if p.MaxSessionDuration == 0 {
		return defaultMaxSessionDuration
	}
	return p.MaxSessionDuration
}

func iamTags(m map[string]string) []types.Tag {
	out := make([]types.Tag, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, types.Tag{Key: sdkaws.String(k), Value: sdkaws.String(m[k])})
	}
	return out
}

func (roleProvider) client(ctx context.Context, r *roleRequest) (*iam.Client, error) {
	cfg, err := sdkConfig(ctx, r.Credentials, r.Refresh)
	if err != nil {
		return nil, err
	}
	return iam.NewFromConfig(cfg), nil
}

func roleGone(err error) bool {
	return errorAs[*types.NoSuchEntityException](err) || hasCode(err, "NoSuchEntity")
}

// roleState is what the role has (or is known to have) on AWS. A nil trust
// or description means unknown: it is written unconditionally.
type roleState struct {
	trust, description *string
	maxSession         int
	tags               map[string]string
	inline             map[string]string // name -> document, "" unknown
	managed            []string
}

func desiredState(r *roleRequest, p IAMRoleArgs) roleState {
	return roleState{trust: &p.AssumeRolePolicy, description: &p.Description, maxSession: maxSession(p),
		tags: ownershipTags(p.Tags, r.Stamp()), inline: p.InlinePolicies, managed: p.ManagedPolicyArns}
}

func (roleProvider) Name(r *roleRequest) string { return roleName(r, r.Props) }

// Identity is the role's ARN (its name for attributes without one). Not
// its RoleId: a role deleted and made again under the same name is deleted
// by the same name.
func (roleProvider) Identity(a IAMRoleAttrs) string {
	if a.Arn != "" {
		return a.Arn
	}
	return a.RoleName
}

// Read finds the role by name, with its trust policy, description, maximum
// session duration, inline policies, attached policies and tags.
func (p roleProvider) Read(ctx context.Context, r *roleRequest) (*alchemy.Found[IAMRoleArgs, IAMRoleAttrs], error) {
	c, err := p.client(ctx, r)
	if err != nil {
		return nil, err
	}
	name := r.OldAttrs.RoleName
	if name == "" {
		name = roleName(r, r.Props)
	}
	g, err := c.GetRole(ctx, &iam.GetRoleInput{RoleName: &name})
	if roleGone(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("looking up role %s: %w", name, err)
	}
	st, err := readState(ctx, c, name)
	if roleGone(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	for pn := range st.inline {
		out, err := c.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: &name, PolicyName: &pn})
		if err != nil && !roleGone(err) {
			return nil, fmt.Errorf("reading inline policy %s of role %s: %w", pn, name, err)
		}
		if err == nil {
			st.inline[pn] = policyDocument(out.PolicyDocument)
		}
	}
	role := g.Role
	live := IAMRoleArgs{RoleName: r.Props.RoleName, AssumeRolePolicy: policyDocument(role.AssumeRolePolicyDocument),
		Description: sdkaws.ToString(role.Description), Tags: userTags(st.tags), ManagedPolicyArns: st.managed}
	if m := int(sdkaws.ToInt32(role.MaxSessionDuration)); m != 0 && !(m == defaultMaxSessionDuration && r.Props.MaxSessionDuration == 0) {
		live.MaxSessionDuration = m
	}
	if len(st.inline) > 0 {
		live.InlinePolicies = st.inline
	}
	return &alchemy.Found[IAMRoleArgs, IAMRoleAttrs]{
		Attrs:     roleAttrs(role),
		Props:     &live,
		Name:      "role " + name,
		Generated: r.Props.RoleName == "" && name == r.PhysicalName(64, false),
		Stamp:     alchemy.StampFromTags(st.tags),
	}, nil
}

// policyDocument is a policy document as IAM returns it: URL-encoded.
func policyDocument(doc *string) string {
	s := sdkaws.ToString(doc)
	if d, err := url.QueryUnescape(s); err == nil {
		return d
	}
	return s
}

// Create makes the role with its policies; it never takes over an existing
// one.
func (p roleProvider) Create(ctx context.Context, r *roleRequest) (IAMRoleAttrs, error) {
	if err := validateRole(r.Props); err != nil {
		return IAMRoleAttrs{}, err
	}
	c, err := p.client(ctx, r)
	if err != nil {
		return IAMRoleAttrs{}, err
	}
	name := roleName(r, r.Props)
	want := desiredState(r, r.Props)
	in := &iam.CreateRoleInput{RoleName: &name, AssumeRolePolicyDocument: &r.Props.AssumeRolePolicy,
		Tags: iamTags(want.tags), MaxSessionDuration: sdkaws.Int32(int32(want.maxSession))}
	if r.Props.Description != "" {
		in.Description = &r.Props.Description
	}
	r.Note("Creating role " + name + "...")
	isTaken := func(err error) bool {
		return errorAs[*types.EntityAlreadyExistsException](err) || hasCode(err, "EntityAlreadyExists")
	}
	out, err := createCall(ctx, func() (*iam.CreateRoleOutput, error) {
		return c.CreateRole(ctx, in, func(o *iam.Options) { o.Retryer = noRetry })
	}, isTaken)
	switch {
	case err == nil:
	case isTaken(err):
		return IAMRoleAttrs{}, fmt.Errorf("role %s already exists: %w: %w", name, alchemy.ErrAlreadyExists, err)
	default:
		return IAMRoleAttrs{}, fmt.Errorf("creating role %s: %w", name, err)
	}
	// Set by CreateRole; no policies yet.
	old := roleState{trust: want.trust, description: want.description, maxSession: want.maxSession, tags: want.tags}
	if err := p.apply(ctx, c, r, name, old, want); err != nil {
		return IAMRoleAttrs{}, err
	}
	return roleAttrs(out.Role), nil
}

// readState reads the role's tags, inline policy names and attached
// policies (trust policy, description and inline policy documents stay
// unknown).
func readState(ctx context.Context, c *iam.Client, name string) (roleState, error) {
	s := roleState{inline: map[string]string{}}
	var err error
	if s.tags, err = readTags(ctx, c, name); err != nil {
		return s, fmt.Errorf("reading tags of role %s: %w", name, err)
	}
	names, err := inlineNames(ctx, c, name)
	if err != nil {
		return s, fmt.Errorf("listing inline policies of role %s: %w", name, err)
	}
	for _, n := range names {
		s.inline[n] = ""
	}
	if s.managed, err = attachedArns(ctx, c, name); err != nil {
		return s, fmt.Errorf("listing attached policies of role %s: %w", name, err)
	}
	return s, nil
}

func readTags(ctx context.Context, c *iam.Client, name string) (map[string]string, error) {
	tags := map[string]string{}
	p := iam.NewListRoleTagsPaginator(c, &iam.ListRoleTagsInput{RoleName: &name})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, t := range out.Tags {
			tags[sdkaws.ToString(t.Key)] = sdkaws.ToString(t.Value)
		}
	}
	return tags, nil
}

func inlineNames(ctx context.Context, c *iam.Client, name string) ([]string, error) {
	var names []string
	p := iam.NewListRolePoliciesPaginator(c, &iam.ListRolePoliciesInput{RoleName: &name})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		names = append(names, out.PolicyNames...)
	}
	return names, nil
}

func attachedArns(ctx context.Context, c *iam.Client, name string) ([]string, error) {
	var arns []string
	p := iam.NewListAttachedRolePoliciesPaginator(c, &iam.ListAttachedRolePoliciesInput{RoleName: &name})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, a := range out.AttachedPolicies {
			arns = append(arns, sdkaws.ToString(a.PolicyArn))
		}
	}
	return arns, nil
}

// apply moves the role from old to want, calling only what differs.
func (roleProvider) apply(ctx context.Context, c *iam.Client, r *roleRequest, name string, old, want roleState) error {
	if old.trust == nil || *old.trust != *want.trust {
		if _, err := c.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: &name, PolicyDocument: want.trust}); err != nil {
			return fmt.Errorf("updating trust policy of role %s: %w", name, err)
		}
	}
	if old.description == nil || *old.description != *want.description || old.maxSession != want.maxSession {
		if _, err := c.UpdateRole(ctx, &iam.UpdateRoleInput{RoleName: &name, Description: want.description,
			MaxSessionDuration: sdkaws.Int32(int32(want.maxSession))}); err != nil {
			return fmt.Errorf("updating role %s: %w", name, err)
		}
	}
	var gone []string
	changed := false
	for _, k := range slices.Sorted(maps.Keys(old.tags)) {
		if _, keep := want.tags[k]; !keep {
			gone = append(gone, k)
		}
	}
	for k, v := range want.tags {
		if cur, ok := old.tags[k]; !ok || cur != v {
			changed = true
		}
	}
	if len(gone) > 0 {
		if _, err := c.UntagRole(ctx, &iam.UntagRoleInput{RoleName: &name, TagKeys: gone}); err != nil {
			return fmt.Errorf("removing tags of role %s: %w", name, err)
		}
	}
	if changed {
		if _, err := c.TagRole(ctx, &iam.TagRoleInput{RoleName: &name, Tags: iamTags(want.tags)}); err != nil {
			return fmt.Errorf("tagging role %s: %w", name, err)
		}
	}
	for _, pn := range slices.Sorted(maps.Keys(old.inline)) {
		if _, keep := want.inline[pn]; keep {
			continue
		}
		r.Note(fmt.Sprintf("Deleting inline policy %s of role %s...", pn, name))
		if _, err := c.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: &name, PolicyName: &pn}); err != nil && !roleGone(err) {
			return fmt.Errorf("deleting inline policy %s of role %s: %w", pn, name, err)
		}
	}
	for _, pn := range slices.Sorted(maps.Keys(want.inline)) {
		doc := want.inline[pn]
		if cur, ok := old.inline[pn]; ok && cur == doc {
			continue
		}
		r.Note(fmt.Sprintf("Putting inline policy %s of role %s...", pn, name))
		if _, err := c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: &name, PolicyName: &pn, PolicyDocument: &doc}); err != nil {
			return fmt.Errorf("putting inline policy %s of role %s: %w", pn, name, err)
		}
	}
	for _, arn := range old.managed {
		if slices.Contains(want.managed, arn) {
			continue
		}
		r.Note(fmt.Sprintf("Detaching policy %s from role %s...", arn, name))
		if _, err := c.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: &name, PolicyArn: &arn}); err != nil && !roleGone(err) {
			return fmt.Errorf("detaching policy %s from role %s: %w", arn, name, err)
		}
	}
	for _, arn := range want.managed {
		if slices.Contains(old.managed, arn) {
			continue
		}
		r.Note(fmt.Sprintf("Attaching policy %s to role %s...", arn, name))
		if _, err := c.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: &name, PolicyArn: &arn}); err != nil {
			return fmt.Errorf("attaching policy %s to role %s: %w", arn, name, err)
		}
	}
	return nil
}

func roleAttrs(role *types.Role) IAMRoleAttrs {
	return IAMRoleAttrs{RoleName: sdkaws.ToString(role.RoleName), Arn: sdkaws.ToString(role.Arn), RoleID: sdkaws.ToString(role.RoleId)}
}

// Update brings the role from r.OldProps (the props last applied, or its
// live configuration when it is being taken over) to r.Props. Tags are
// compared with the role's current ones, so the ownership tags are written
// whenever they are missing; user tags of r.OldProps gone from r.Props are
// removed, tags added outside alchemy are left alone.
func (p roleProvider) Update(ctx context.Context, r *roleRequest) (IAMRoleAttrs, error) {
	if err := validateRole(r.Props); err != nil {
		return IAMRoleAttrs{}, err
	}
	c, err := p.client(ctx, r)
	if err != nil {
		return IAMRoleAttrs{}, err
	}
	name := r.OldAttrs.RoleName
	if name == "" {
		name = roleName(r, r.Props)
	}
	g, err := c.GetRole(ctx, &iam.GetRoleInput{RoleName: &name})
	if err != nil {
		return IAMRoleAttrs{}, fmt.Errorf("reading role %s: %w", name, err)
	}
	cur, err := readTags(ctx, c, name)
	if err != nil {
		return IAMRoleAttrs{}, fmt.Errorf("reading tags of role %s: %w", name, err)
	}
	old := desiredState(r, r.OldProps)
	old.tags = map[string]string{}
	for k, v := range cur {
		if _, was := r.OldProps.Tags[k]; was || strings.HasPrefix(k, tagPrefix) {
			old.tags[k] = v
		}
	}
	if err := p.apply(ctx, c, r, name, old, desiredState(r, r.Props)); err != nil {
		return IAMRoleAttrs{}, err
	}
	return roleAttrs(g.Role), nil
}

// Delete detaches the role's managed policies, deletes its inline ones and
// then the role. Ownership is the engine's to prove before it calls Delete;
// a role already gone is success.
func (p roleProvider) Delete(ctx context.Context, r *roleRequest) error {
	c, err := p.client(ctx, r)
	if err != nil {
		return err
	}
	name := r.OldAttrs.RoleName
	if name == "" {
		// The engine passes the attributes Read found for a row that has
		// none; derive the name otherwise.
		name = roleName(r, r.OldProps)
	}
	r.Note("Deleting role " + name + "...")
	arns, err := attachedArns(ctx, c, name)
	if roleGone(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("listing attached policies of role %s: %w", name, err)
	}
	for _, arn := range arns {
		if _, err := c.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: &name, PolicyArn: &arn}); err != nil && !roleGone(err) {
			return fmt.Errorf("detaching policy %s from role %s: %w", arn, name, err)
		}
	}
	names, err := inlineNames(ctx, c, name)
	if roleGone(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("listing inline policies of role %s: %w", name, err)
	}
	for _, pn := range names {
		if _, err := c.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: &name, PolicyName: &pn}); err != nil && !roleGone(err) {
			return fmt.Errorf("deleting inline policy %s of role %s: %w", pn, name, err)
		}
	}
	if _, err := c.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: &name}); err != nil && !roleGone(err) {
		return fmt.Errorf("deleting role %s: %w", name, err)
	}
	return nil
}
