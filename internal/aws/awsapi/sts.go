package awsapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// stsVersion is the STS API version every query request names.
const stsVersion = "2011-06-15"

// STS is a client of AWS Security Token Service, signing with one set of
// credentials.
type STS struct {
	cfg   Config
	creds aws.Credentials
}

// NewSTS returns an STS client that signs with creds in cfg.Region.
func NewSTS(cfg Config, creds aws.Credentials) *STS {
	return &STS{cfg: cfg, creds: creds}
}

// CallerIdentity is GetCallerIdentity's answer.
type CallerIdentity struct {
	Account string
	Arn     string
	UserID  string
}

// GetCallerIdentity asks whom the credentials belong to.
func (c *STS) GetCallerIdentity(ctx context.Context) (*CallerIdentity, error) {
	var out struct {
		Result struct {
			Account string `xml:"Account"`
			Arn     string `xml:"Arn"`
			UserID  string `xml:"UserId"`
		} `xml:"GetCallerIdentityResult"`
	}
	if err := c.call(ctx, "GetCallerIdentity", nil, &out); err != nil {
		return nil, err
	}
	r := out.Result
	return &CallerIdentity{Account: r.Account, Arn: r.Arn, UserID: r.UserID}, nil
}

// AssumeRoleInput is what AssumeRole sends; zero fields are left out.
type AssumeRoleInput struct {
	RoleArn         string
	RoleSessionName string
	ExternalID      string
	// Duration is rounded down to whole seconds; 0 lets STS choose (1 hour).
	Duration time.Duration
}

// RoleCredentials are temporary credentials of a role.
type RoleCredentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	Expiration      time.Time
}

// AssumedRole is AssumeRole's answer.
type AssumedRole struct {
	Credentials RoleCredentials
	// Arn is the assumed-role ARN (arn:aws:sts::<account>:assumed-role/<role>/<session>).
	Arn string
}

// Account is the account of the assumed role, from its ARN; "" when the
// ARN has none.
func (r *AssumedRole) Account() string {
	parts := strings.SplitN(r.Arn, ":", 6)
	if len(parts) < 6 {
		return ""
	}
	return parts[4]
}

// AssumeRole asks for temporary credentials of a role.
func (c *STS) AssumeRole(ctx context.Context, in AssumeRoleInput) (*AssumedRole, error) {
	params := url.Values{"RoleArn": {in.RoleArn}, "RoleSessionName": {in.RoleSessionName}}
	if in.ExternalID != "" {
		params.Set("ExternalId", in.ExternalID)
	}
	if in.Duration > 0 {
		params.Set("DurationSeconds", strconv.Itoa(int(in.Duration/time.Second)))
	}
	var out struct {
		Result struct {
			Credentials struct {
				AccessKeyID     string `xml:"AccessKeyId"`
				SecretAccessKey string `xml:"SecretAccessKey"`
				SessionToken    string `xml:"SessionToken"`
				Expiration      string `xml:"Expiration"`
			} `xml:"Credentials"`
			User struct {
				Arn string `xml:"Arn"`
			} `xml:"AssumedRoleUser"`
		} `xml:"AssumeRoleResult"`
	}
	if err := c.call(ctx, "AssumeRole", params, &out); err != nil {
		return nil, err
	}
	cr := out.Result.Credentials
	exp, err := time.Parse(time.RFC3339, cr.Expiration)
	if err != nil {
		return nil, c.deserializationError("AssumeRole", fmt.Errorf("expiration %q: %w", cr.Expiration, err))
	}
	return &AssumedRole{Arn: out.Result.User.Arn, Credentials: RoleCredentials{AccessKeyID: cr.AccessKeyID,
		SecretAccessKey: cr.SecretAccessKey, SessionToken: cr.SessionToken, Expiration: exp}}, nil
}

// call sends one query-protocol request (a form-encoded POST to "/", signed
// for "sts") and decodes the XML answer into out.
func (c *STS) call(ctx context.Context, operation string, params url.Values, out any) error {
	form := url.Values{"Action": {operation}, "Version": {stsVersion}}
	for k, vs := range params {
		form[k] = vs
	}
	body := []byte(form.Encode())
	region := c.cfg.Region
	signer := v4.NewSigner()
	resp, err := c.cfg.do(ctx, request{
		service: stsService, operation: operation, method: http.MethodPost, path: "/",
		header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}},
		body:   body,
		sign: func(r *http.Request, body []byte) error {
			sum := sha256.Sum256(body)
			return signer.SignHTTP(ctx, c.creds, r, hex.EncodeToString(sum[:]), "sts", region, time.Now().UTC())
		},
	}, queryError)
	if err != nil {
		return err
	}
	if err := xml.Unmarshal(resp.body, out); err != nil {
		return c.deserializationError(operation, err)
	}
	return nil
}

func (c *STS) deserializationError(operation string, err error) error {
	return deserializationError(stsService, operation, err)
}

// queryError reads the query protocol's error document:
// <ErrorResponse><Error><Code/><Message/></Error></ErrorResponse>.
func queryError(_ http.Header, body []byte) (code, message string) {
	var doc struct {
		Error struct {
			Code    string `xml:"Code"`
			Message string `xml:"Message"`
		} `xml:"Error"`
	}
	if xml.Unmarshal(body, &doc) != nil {
		return "", ""
	}
	return doc.Error.Code, doc.Error.Message
}
