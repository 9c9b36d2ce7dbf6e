package cloudflare

import "testing"

// TestShapeNamesThisProvidersFiles: the shape every profile store knows
// (profile.CloudflareShape) names this provider and its secret documents.
func TestShapeNamesThisProvidersFiles(t *testing.T) {
	sh := Provider{}.Shape()
	if sh.Provider != Name || len(sh.Docs) != 2 || sh.Docs[0].Key != storedKey || sh.Docs[1].Key != oauthKey {
		t.Errorf("shape %+v does not name %s and its documents %s, %s", sh, Name, storedKey, oauthKey)
	}
}
