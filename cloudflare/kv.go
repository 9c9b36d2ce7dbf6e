package cloudflare

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/alchemy-go/alchemy"
)

// Workers KV API (developers.cloudflare.com/api/resources/kv/subresources/namespaces):
//
//	POST   /accounts/{account_id}/storage/kv/namespaces                 {"title"}
//	GET    /accounts/{account_id}/storage/kv/namespaces?page=&per_page= (page-based, per_page 5..100)
//	PUT    /accounts/{account_id}/storage/kv/namespaces/{namespace_id}  {"title"}
//	DELETE /accounts/{account_id}/storage/kv/namespaces/{namespace_id}
//
// A duplicate title is HTTP 400, code 10014 "a namespace with this account
// ID and title already exists"; a missing namespace is code 10013
// "namespace not found" (HTTP 404).
const (
	codeKVNotFound    = 10013
	codeKVTitleExists = 10014
	kvListPerPage     = 100
	kvMaxPages        = 1000
)

func init() {
	alchemy.Register[KVNamespaceArgs, KVNamespaceAttrs](kvProvider{})
}

// KVNamespaceProps declares a Workers KV namespace.
type KVNamespaceProps struct {
	// Title of the namespace. Default: the physical name
	// <stack>-<id>-<stage>-<suffix> (at most 64 characters), unique per stage
	// and generation. Changing it renames the namespace in place.
	Title alchemy.Input[string] `json:"title"`
}

// KVNamespaceArgs are a namespace's resolved props.
type KVNamespaceArgs struct {
	Title string `json:"title,omitempty"`
}

// KVNamespaceAttrs are what a deployed namespace publishes.
type KVNamespaceAttrs struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

// KVNamespace is a declared Workers KV namespace.
type KVNamespace struct {
	*alchemy.Resource
	// ID is the namespace ID, what a Worker binding needs.
	ID    alchemy.Output[string]
	Title alchemy.Output[string]
}

// NewKVNamespace declares a Workers KV namespace.
func NewKVNamespace(s *alchemy.Stack, id string, props KVNamespaceProps, opts ...alchemy.Option) *KVNamespace {
	r := alchemy.Declare[KVNamespaceArgs, KVNamespaceAttrs](s, kvProvider{}, id, props, opts...)
	return &KVNamespace{Resource: r, ID: alchemy.Attr[string](r, "id"), Title: alchemy.Attr[string](r, "title")}
}

type kvProvider struct{}

type kvRequest = alchemy.Request[KVNamespaceArgs, KVNamespaceAttrs]

func (kvProvider) Type() string        { return "Cloudflare.KV.Namespace" }
func (kvProvider) Auth() string        { return authName }
func (kvProvider) ReplaceOn() []string { return nil }

func kvTitle(r *kvRequest, args KVNamespaceArgs) string {
	if args.Title != "" {
		return args.Title
	}
	return r.PhysicalName(64, false)
}

type kvNamespaceJSON struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

// findByTitle lists every namespace of the account and returns the one
// titled title, if any.
func (c *client) findKVByTitle(ctx context.Context, title string) (*kvNamespaceJSON, error) {
	for page := 1; page <= kvMaxPages; page++ {
		q := url.Values{}
		q.Set("page", strconv.Itoa(page))
		q.Set("per_page", strconv.Itoa(kvListPerPage))
		var res []kvNamespaceJSON
		info, err := c.do(ctx, http.MethodGet, c.accountPath("/storage/kv/namespaces"), q, nil, &res)
		if err != nil {
			return nil, fmt.Errorf("listing KV namespaces: %w", err)
		}
		for i := range res {
			if res[i].Title == title {
				return &res[i], nil
			}
		}
		if info == nil || len(res) == 0 || info.TotalPages <= page {
			return nil, nil
		}
	}
	return nil, fmt.Errorf("listing KV namespaces: more than %d pages", kvMaxPages)
}

// Create finds a namespace with the title first: the title embeds stack, id,
// stage and generation, so one found is this resource's, left by a create
// whose answer was lost. Otherwise it creates one; a duplicate-title answer
// (a retried POST that had succeeded) is resolved by listing again.
func (kvProvider) Create(ctx context.Context, r *kvRequest) (KVNamespaceAttrs, error) {
	c, err := newClient(r.Credentials)
	if err != nil {
		return KVNamespaceAttrs{}, err
	}
	title := kvTitle(r, r.Props)
	if found, err := c.findKVByTitle(ctx, title); err != nil {
		return KVNamespaceAttrs{}, err
	} else if found != nil {
		// A generated title embeds stack, id, stage and instance, so a
		// namespace with it is this resource's; a title the author chose may
		// be anyone's.
		if err := r.MayAdopt("Cloudflare.KV.Namespace", "KV namespace "+title, r.Props.Title == ""); err != nil {
			return KVNamespaceAttrs{}, err
		}
		r.Note("Adopting existing KV namespace " + title)
		return KVNamespaceAttrs{ID: found.ID, Title: found.Title}, nil
	}
	var res kvNamespaceJSON
	_, err = c.do(ctx, http.MethodPost, c.accountPath("/storage/kv/namespaces"), nil, map[string]string{"title": title}, &res)
	if hasCode(err, codeKVTitleExists) {
		found, ferr := c.findKVByTitle(ctx, title)
		if ferr != nil {
			return KVNamespaceAttrs{}, ferr
		}
		if found != nil {
			return KVNamespaceAttrs{ID: found.ID, Title: found.Title}, nil
		}
	}
	if err != nil {
		return KVNamespaceAttrs{}, fmt.Errorf("creating KV namespace %q: %w", title, err)
	}
	if res.ID == "" {
		return KVNamespaceAttrs{}, fmt.Errorf("creating KV namespace %q: the API returned no namespace ID", title)
	}
	return KVNamespaceAttrs{ID: res.ID, Title: title}, nil
}

// Update renames the namespace when its title changed.
func (p kvProvider) Update(ctx context.Context, r *kvRequest) (KVNamespaceAttrs, error) {
	if r.OldAttrs.ID == "" {
		// No attributes recorded: finish the create.
		return p.Create(ctx, r)
	}
	title := kvTitle(r, r.Props)
	if title == r.OldAttrs.Title {
		return r.OldAttrs, nil
	}
	c, err := newClient(r.Credentials)
	if err != nil {
		return KVNamespaceAttrs{}, err
	}
	path := c.accountPath("/storage/kv/namespaces/" + url.PathEscape(r.OldAttrs.ID))
	if _, err := c.do(ctx, http.MethodPut, path, nil, map[string]string{"title": title}, nil); err != nil {
		if hasCode(err, codeKVNotFound) {
			return KVNamespaceAttrs{}, fmt.Errorf("renaming KV namespace %s to %q: it no longer exists (deleted outside alchemy?); remove it from state with `alchemy state delete` to create it again: %w", r.OldAttrs.ID, title, err)
		}
		return KVNamespaceAttrs{}, fmt.Errorf("renaming KV namespace %s to %q: %w", r.OldAttrs.ID, title, err)
	}
	return KVNamespaceAttrs{ID: r.OldAttrs.ID, Title: title}, nil
}

// Delete removes the namespace; one already gone is success. A row without
// attributes (interrupted create) is looked up by its title.
func (kvProvider) Delete(ctx context.Context, r *kvRequest) error {
	c, err := newClient(r.Credentials)
	if err != nil {
		return err
	}
	id := r.OldAttrs.ID
	if id == "" {
		found, err := c.findKVByTitle(ctx, kvTitle(r, r.OldProps))
		if err != nil || found == nil {
			return err
		}
		id = found.ID
	}
	_, err = c.do(ctx, http.MethodDelete, c.accountPath("/storage/kv/namespaces/"+url.PathEscape(id)), nil, nil, nil)
	if err != nil && (hasCode(err, codeKVNotFound) || isStatus(err, http.StatusNotFound)) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("deleting KV namespace %s: %w", id, err)
	}
	return nil
}
