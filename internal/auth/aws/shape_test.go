package aws

import "testing"

// TestShapeNamesThisProvidersFiles: the shape every profile store knows
// (profile.AWSShape) names this provider and its secret documents.
func TestShapeNamesThisProvidersFiles(t *testing.T) {
	sh := Provider{}.Shape()
	if sh.Provider != Name || len(sh.Docs) != 1 || sh.Docs[0].Key != storedKey {
		t.Errorf("shape %+v does not name %s and its document %s", sh, Name, storedKey)
	}
}
