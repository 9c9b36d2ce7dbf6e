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
//	GET    /accounts/{account_id}/storage/kv/namespaces/{namespace_id}
//	PUT    /accounts/{account_id}/storage/kv/namespaces/{namespace_id}  {"title"}
//	DELETE /accounts/{account_id}/storage/kv/namespaces/{namespace_id}
//
// A duplicate title is HTTP 400, code 10014 "a namespace with this account
// ID and title already exists"; a missing namespace is code 10013
// "namespace not found" (HTTP 404).
//
// Namespaces carry no tags: only a generated title proves that a namespace
// found under it is this resource's; one with a title the author chose is
// taken over only with deploy --adopt (the engine decides, from Read).
const (
	codeKVNotFound    = 10013
	codeKVTitleExists = 10014
	kvListPerPage     = 100
	kvMaxPages        = 1000
)

func init() {
	alchemy.Register[KVNamespaceArgs, KVNamespaceAttrs](kvProvider{})
}

var (
	_ alchemy.Reader[KVNamespaceArgs, KVNamespaceAttrs]     = kvProvider{}
	_ alchemy.Identified[KVNamespaceArgs, KVNamespaceAttrs] = kvProvider{}
)

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
func (kvProvider) ReportsWrites() bool { return true } // writes no local file (alchemy.WriteReporter)
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

func (kvProvider) Name(r *kvRequest) string           { return kvTitle(r, r.Props) }
func (kvProvider) Identity(a KVNamespaceAttrs) string { return a.ID }

// findKVByTitle lists every namespace of the account and returns the one
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

// getKV reads one namespace by ID; nil when there is none.
func (c *client) getKV(ctx context.Context, id string) (*kvNamespaceJSON, error) {
	var res kvNamespaceJSON
	_, err := c.do(ctx, http.MethodGet, c.accountPath("/storage/kv/namespaces/"+url.PathEscape(id)), nil, nil, &res)
	if isGone(err, codeKVNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading KV namespace %s: %w", id, err)
	}
	if res.ID == "" {
		res.ID = id
	}
	return &res, nil
}

// Read finds the namespace: by its ID once it is known (titles change in
// place), else by the title this resource gives it.
func (kvProvider) Read(ctx context.Context, r *kvRequest) (*alchemy.Found[KVNamespaceArgs, KVNamespaceAttrs], error) {
	c, err := newClient(r.Credentials)
	if err != nil {
		return nil, err
	}
	var ns *kvNamespaceJSON
	if r.OldAttrs.ID != "" {
		ns, err = c.getKV(ctx, r.OldAttrs.ID)
	} else {
		ns, err = c.findKVByTitle(ctx, kvTitle(r, r.Props))
	}
	if err != nil || ns == nil {
		return nil, err
	}
	generated := r.Props.Title == "" && ns.Title == kvTitle(r, KVNamespaceArgs{})
	live := KVNamespaceArgs{Title: ns.Title}
	if generated {
		live.Title = ""
	}
	return &alchemy.Found[KVNamespaceArgs, KVNamespaceAttrs]{
		Attrs:     KVNamespaceAttrs{ID: ns.ID, Title: ns.Title},
		Props:     &live,
		Name:      "KV namespace " + ns.Title,
		Generated: generated,
	}, nil
}

// Create creates the namespace. A title the account already has (code
// 10014) is reported as alchemy.ErrAlreadyExists: the engine reads the
// namespace there and decides whether it may be taken over.
func (kvProvider) Create(ctx context.Context, r *kvRequest) (KVNamespaceAttrs, error) {
	c, err := newClient(r.Credentials)
	if err != nil {
		return KVNamespaceAttrs{}, err
	}
	title := kvTitle(r, r.Props)
	var res kvNamespaceJSON
	_, err = c.do(ctx, http.MethodPost, c.accountPath("/storage/kv/namespaces"), nil, map[string]string{"title": title}, &res)
	if hasCode(err, codeKVTitleExists) {
		return KVNamespaceAttrs{}, fmt.Errorf("creating KV namespace %q: %w: %w", title, alchemy.ErrAlreadyExists, err)
	}
	if err != nil {
		return KVNamespaceAttrs{}, fmt.Errorf("creating KV namespace %q: %w", title, err)
	}
	if res.ID == "" {
		return KVNamespaceAttrs{}, fmt.Errorf("creating KV namespace %q: the API returned no namespace ID", title)
	}
	return KVNamespaceAttrs{ID: res.ID, Title: title}, nil
}

// Update renames the namespace when its title is not the declared one
// (after a title change, or when taking over one found under another).
func (kvProvider) Update(ctx context.Context, r *kvRequest) (KVNamespaceAttrs, error) {
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
		if isGone(err, codeKVNotFound) {
			return KVNamespaceAttrs{}, fmt.Errorf("renaming KV namespace %s to %q: it no longer exists (deleted outside alchemy?); remove it from state with `alchemy state delete` to create it again: %w", r.OldAttrs.ID, title, err)
		}
		return KVNamespaceAttrs{}, fmt.Errorf("renaming KV namespace %s to %q: %w", r.OldAttrs.ID, title, err)
	}
	return KVNamespaceAttrs{ID: r.OldAttrs.ID, Title: title}, nil
}

// Delete removes the namespace; one already gone is success. Without an ID
// (a claimed create whose answer was lost) it is looked up by its title.
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
	if isGone(err, codeKVNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("deleting KV namespace %s: %w", id, err)
	}
	return nil
}
