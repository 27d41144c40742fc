package server

import (
	_ "embed"
	"net/http"
)

// openAPI is the API's OpenAPI 3 document. A test checks it against the
// router (every route documented, nothing documented that is not routed)
// and the request and response types (the same fields).
//
//go:embed openapi.json
var openAPI []byte

func serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(openAPI)
}
