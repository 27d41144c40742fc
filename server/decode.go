package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/causeway-rca/causeway"
)

// decodeJSON reads the request body into v strictly: JSON only (which also
// keeps browsers' form posts out), at most maxBytes, no unknown fields, one
// value and nothing after it. Its errors say what is wrong and where.
func decodeJSON(w http.ResponseWriter, r *http.Request, maxBytes int64, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return errorf(http.StatusUnsupportedMediaType, codeUnsupportedMedia,
				"Content-Type must be application/json, not %q (curl: -H 'Content-Type: application/json')", ct)
		}
	}
	if r.ContentLength > maxBytes {
		return errorf(http.StatusRequestEntityTooLarge, codeTooLarge, "request body has %d bytes; at most %d", r.ContentLength, maxBytes)
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return errorf(http.StatusBadRequest, causeway.EINVALID, "request body has more after its JSON object")
	}
	return nil
}

func jsonError(err error) error {
	var (
		syntax *json.SyntaxError
		typ    *json.UnmarshalTypeError
		mbe    *http.MaxBytesError
	)
	switch {
	case errors.As(err, &mbe):
		return err
	case errors.Is(err, io.EOF):
		return errorf(http.StatusBadRequest, causeway.EINVALID, "request body is empty; send a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errorf(http.StatusBadRequest, causeway.EINVALID, "request body ends in the middle of its JSON")
	case errors.As(err, &syntax):
		return errorf(http.StatusBadRequest, causeway.EINVALID, "malformed JSON at byte %d: %s", syntax.Offset, strings.TrimPrefix(syntax.Error(), "json: "))
	case errors.As(err, &typ):
		if typ.Field == "" {
			return errorf(http.StatusBadRequest, causeway.EINVALID, "request body must be a JSON object, not %s", typ.Value)
		}
		return errorf(http.StatusBadRequest, causeway.EINVALID, "field %s must be %s, not %s", typ.Field, jsonType(typ.Type.Kind().String()), typ.Value)
	}
	// The remaining decode errors are an unknown field ("json: unknown
	// field \"x\"") and values their types reject (a bad time); their text
	// names the field.
	return errorf(http.StatusBadRequest, causeway.EINVALID, "%s", strings.TrimPrefix(err.Error(), "json: "))
}

func jsonType(kind string) string {
	switch {
	case strings.HasPrefix(kind, "int"), strings.HasPrefix(kind, "uint"), strings.HasPrefix(kind, "float"):
		return "a number"
	case kind == "string":
		return "a string"
	case kind == "bool":
		return "true or false"
	case kind == "slice", kind == "array":
		return "an array"
	case kind == "struct", kind == "map", kind == "ptr":
		return "an object"
	}
	return fmt.Sprintf("a %s", kind)
}
