package awsiam_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/alchemy-go/alchemy/internal/fakes/awsiam"
	"github.com/alchemy-go/alchemy/internal/testpeers"
	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"
)

const trust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
const trust2 = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
const policy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/a b+c"}]}`

func client(url string) *iam.Client {
	return iam.New(iam.Options{Region: "us-east-1", BaseEndpoint: sdkaws.String(url),
		Credentials: sdkaws.AnonymousCredentials{}})
}

func code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// emulate really lacks every action the fake answers itself: it says
// InvalidAction to each (if a later emulate gains one, this tells).
func TestEmulateLacksOwnActions(t *testing.T) {
	peer := testpeers.Emulate(t)
	for _, a := range awsiam.OwnActions() {
		resp, err := http.PostForm(peer.IAMEndpoint(), url.Values{"Action": {a}, "Version": {"2010-05-08"}, "RoleName": {"x"}})
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || !strings.Contains(string(body), "InvalidAction") {
			t.Errorf("emulate %s: %s %s (the fake may no longer be needed for it)", a, resp.Status, body)
		}
	}
}

func TestFakeWithSDK(t *testing.T) {
	peer := testpeers.Emulate(t)
	s := awsiam.Start(t, peer.IAMEndpoint())
	c := client(s.URL)
	ctx := context.Background()
	name := "r1"

	// Proxied create (tags and max session kept here), wrapped GetRole.
	if _, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: &name, AssumeRolePolicyDocument: sdkaws.String(trust),
		Description: sdkaws.String("d1"), MaxSessionDuration: sdkaws.Int32(7200),
		Tags: []types.Tag{{Key: sdkaws.String("a"), Value: sdkaws.String("1")}}}); err != nil {
		t.Fatal(err)
	}
	_, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: &name, AssumeRolePolicyDocument: sdkaws.String(trust)})
	if !errors.As(err, new(*types.EntityAlreadyExistsException)) {
		t.Errorf("second CreateRole: %v", err)
	}
	_, err = c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: sdkaws.String("bad"), AssumeRolePolicyDocument: sdkaws.String("{nope")})
	if !errors.As(err, new(*types.MalformedPolicyDocumentException)) {
		t.Errorf("CreateRole with a bad document: %v", err)
	}
	g, err := c.GetRole(ctx, &iam.GetRoleInput{RoleName: &name})
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := url.QueryUnescape(sdkaws.ToString(g.Role.AssumeRolePolicyDocument))
	if doc != trust || sdkaws.ToString(g.Role.Description) != "d1" || sdkaws.ToInt32(g.Role.MaxSessionDuration) != 7200 ||
		len(g.Role.Tags) != 1 || !strings.HasPrefix(sdkaws.ToString(g.Role.Arn), "arn:aws:iam::"+testpeers.AccountID+":role/") {
		t.Errorf("GetRole: %+v (doc %s)", g.Role, doc)
	}

	// Inline policies.
	if _, err := c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: &name, PolicyName: sdkaws.String("p1"), PolicyDocument: sdkaws.String(policy)}); err != nil {
		t.Fatal(err)
	}
	_, err = c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: &name, PolicyName: sdkaws.String("p2"), PolicyDocument: sdkaws.String(`{"Version":"2012-10-17"}`)})
	if !errors.As(err, new(*types.MalformedPolicyDocumentException)) {
		t.Errorf("PutRolePolicy without Statement: %v", err)
	}
	gp, err := c.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: &name, PolicyName: sdkaws.String("p1")})
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := url.QueryUnescape(sdkaws.ToString(gp.PolicyDocument)); d != policy || sdkaws.ToString(gp.PolicyName) != "p1" {
		t.Errorf("GetRolePolicy: %q", d)
	}
	lp, err := c.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: &name})
	if err != nil || len(lp.PolicyNames) != 1 || lp.PolicyNames[0] != "p1" || lp.IsTruncated {
		t.Errorf("ListRolePolicies: %v %+v", err, lp)
	}
	_, err = c.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: &name, PolicyName: sdkaws.String("nope")})
	if !errors.As(err, new(*types.NoSuchEntityException)) {
		t.Errorf("GetRolePolicy of a missing policy: %v", err)
	}

	// Managed policies.
	arn := "arn:aws:iam::aws:policy/ReadOnlyAccess"
	if _, err := c.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: &name, PolicyArn: &arn}); err != nil {
		t.Fatal(err)
	}
	_, err = c.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: &name, PolicyArn: sdkaws.String("not-an-arn")})
	if !errors.As(err, new(*types.InvalidInputException)) {
		t.Errorf("AttachRolePolicy of a bad ARN: %v", err)
	}
	la, err := c.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: &name})
	if err != nil || len(la.AttachedPolicies) != 1 || sdkaws.ToString(la.AttachedPolicies[0].PolicyArn) != arn ||
		sdkaws.ToString(la.AttachedPolicies[0].PolicyName) != "ReadOnlyAccess" {
		t.Errorf("ListAttachedRolePolicies: %v %+v", err, la)
	}

	// Updates and tags.
	if _, err := c.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: &name, PolicyDocument: sdkaws.String(trust2)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateRole(ctx, &iam.UpdateRoleInput{RoleName: &name, Description: sdkaws.String("d2"), MaxSessionDuration: sdkaws.Int32(3600)}); err != nil {
		t.Fatal(err)
	}
	_, err = c.UpdateRole(ctx, &iam.UpdateRoleInput{RoleName: &name, MaxSessionDuration: sdkaws.Int32(60)})
	if code(err) != "ValidationError" {
		t.Errorf("UpdateRole with MaxSessionDuration 60: %v", err)
	}
	if _, err := c.TagRole(ctx, &iam.TagRoleInput{RoleName: &name, Tags: []types.Tag{{Key: sdkaws.String("b"), Value: sdkaws.String("2")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UntagRole(ctx, &iam.UntagRoleInput{RoleName: &name, TagKeys: []string{"a", "never"}}); err != nil {
		t.Fatal(err)
	}
	lt, err := c.ListRoleTags(ctx, &iam.ListRoleTagsInput{RoleName: &name})
	if err != nil || len(lt.Tags) != 1 || sdkaws.ToString(lt.Tags[0].Key) != "b" || sdkaws.ToString(lt.Tags[0].Value) != "2" {
		t.Errorf("ListRoleTags: %v %+v", err, lt)
	}
	g, _ = c.GetRole(ctx, &iam.GetRoleInput{RoleName: &name})
	doc, _ = url.QueryUnescape(sdkaws.ToString(g.Role.AssumeRolePolicyDocument))
	if doc != trust2 || sdkaws.ToString(g.Role.Description) != "d2" || sdkaws.ToInt32(g.Role.MaxSessionDuration) != 3600 {
		t.Errorf("GetRole after updates: %+v", g.Role)
	}

	// DeleteRole is refused while policies remain.
	_, err = c.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: &name})
	if !errors.As(err, new(*types.DeleteConflictException)) {
		t.Errorf("DeleteRole with policies: %v", err)
	}
	if _, err := c.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: &name, PolicyArn: &arn}); err != nil {
		t.Fatal(err)
	}
	_, err = c.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: &name, PolicyArn: &arn})
	if !errors.As(err, new(*types.NoSuchEntityException)) {
		t.Errorf("second DetachRolePolicy: %v", err)
	}
	_, err = c.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: &name})
	if !errors.As(err, new(*types.DeleteConflictException)) {
		t.Errorf("DeleteRole with an inline policy: %v", err)
	}
	if _, err := c.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: &name, PolicyName: sdkaws.String("p1")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: &name}); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetRole(ctx, &iam.GetRoleInput{RoleName: &name})
	if !errors.As(err, new(*types.NoSuchEntityException)) {
		t.Errorf("GetRole after delete: %v", err)
	}
	// Own actions on a missing role.
	_, err = c.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: &name})
	if !errors.As(err, new(*types.NoSuchEntityException)) {
		t.Errorf("ListRolePolicies of a missing role: %v", err)
	}
	_, err = c.TagRole(ctx, &iam.TagRoleInput{RoleName: &name, Tags: []types.Tag{{Key: sdkaws.String("x"), Value: sdkaws.String("y")}}})
	if !errors.As(err, new(*types.NoSuchEntityException)) {
		t.Errorf("TagRole of a missing role: %v", err)
	}

	// Re-created under the same name: clean state.
	if _, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: &name, AssumeRolePolicyDocument: sdkaws.String(trust)}); err != nil {
		t.Fatal(err)
	}
	lt, _ = c.ListRoleTags(ctx, &iam.ListRoleTagsInput{RoleName: &name})
	if len(lt.Tags) != 0 {
		t.Errorf("re-created role has tags %+v", lt.Tags)
	}

	// Other actions are proxied to emulate.
	lr, err := c.ListRoles(ctx, &iam.ListRolesInput{})
	if err != nil || len(lr.Roles) != 1 {
		t.Errorf("ListRoles: %v %+v", err, lr)
	}
	if _, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: sdkaws.String("u")}); err != nil {
		t.Errorf("proxied CreateUser: %v", err)
	}
	if s.Calls("ListRoles") != 1 || s.Calls("CreateRole") != 4 || s.Writes() == 0 {
		t.Errorf("counts: %v", s.AllCalls())
	}
	s.ResetCalls()
	if s.Writes() != 0 {
		t.Errorf("counts after reset: %v", s.AllCalls())
	}
}
