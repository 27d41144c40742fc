package server

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/collectors/files"
	"github.com/causeway-rca/causeway/investigate"
)

// limitedBody caps an upload and remembers when the cap was hit, which
// parsers otherwise report as just another read error.
type limitedBody struct {
	rc       io.ReadCloser
	exceeded error
}

func (s *Server) limitUpload(w http.ResponseWriter, r *http.Request) (*limitedBody, error) {
	if r.ContentLength > s.Config.MaxUploadBytes {
		return nil, errorf(http.StatusRequestEntityTooLarge, codeTooLarge, "upload has %d bytes; at most %d", r.ContentLength, s.Config.MaxUploadBytes)
	}
	b := &limitedBody{rc: http.MaxBytesReader(w, r.Body, s.Config.MaxUploadBytes)}
	r.Body = b
	return b, nil
}

func (b *limitedBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		b.exceeded = err
	}
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }

// check turns a hit cap into the error to answer, whatever else failed.
func (b *limitedBody) check(err error) error {
	if b.exceeded != nil {
		return b.exceeded
	}
	return err
}

// uploadFiles imports files into an incident. A raw body is one file named
// by ?name= (such as logs/app.log); a multipart/form-data body holds
// several, each named by its form field (-F 'logs/app.log=@app.log') or,
// for a field named "file", by its file name. ?kind= sets the kind of every
// file; otherwise it follows the top folder of the name (logs/, events/,
// objects/, metrics/, chat/, tickets/, docs/), else log.
func (s *Server) uploadFiles(w http.ResponseWriter, r *http.Request) {
	inc, err := s.uploadTarget(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	body, err := s.limitUpload(w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	kind := causeway.SourceKind(r.URL.Query().Get("kind"))
	var reports []*files.FileReport
	importOne := func(name string, rd io.Reader) error {
		src, err := investigate.UploadSource(name, kind)
		if err != nil {
			return err
		}
		rep, err := s.Service.ImportFile(r.Context(), inc, src, rd)
		if rep != nil {
			reports = append(reports, rep)
		}
		return body.check(err)
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == "multipart/form-data" {
		mr, err := r.MultipartReader()
		if err != nil {
			s.fail(w, r, causeway.Errorf(causeway.EINVALID, "multipart body: %v", err))
			return
		}
		for {
			part, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				s.fail(w, r, body.check(causeway.Errorf(causeway.EINVALID, "multipart body: %v", err)))
				return
			}
			name := part.FormName()
			if name == "file" || name == "files" {
				name = part.FileName()
			}
			err = importOne(name, part)
			part.Close()
			if err != nil {
				s.fail(w, r, err)
				return
			}
		}
		if len(reports) == 0 {
			s.fail(w, r, causeway.Errorf(causeway.EINVALID, "the multipart body holds no files"))
			return
		}
	} else if err := importOne(r.URL.Query().Get("name"), body); err != nil {
		s.fail(w, r, err)
		return
	}
	var lines int64
	for _, rep := range reports {
		lines += rep.Lines
	}
	writeJSON(w, http.StatusOK, map[string]any{"incident_id": inc.ID, "files": reports, "lines": lines})
}

// uploadBundle imports a bundle archive (.tar.gz, .tar, .zip) into an
// incident.
func (s *Server) uploadBundle(w http.ResponseWriter, r *http.Request) {
	inc, err := s.uploadTarget(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	body, err := s.limitUpload(w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	inc, rep, err := s.Service.ImportArchive(r.Context(), inc, body, investigate.UploadOptions{Limits: s.Config.Archive})
	if err = body.check(err); err != nil {
		s.fail(w, r, err)
		return
	}
	v, err := s.incidentView(r, inc.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"incident": v, "report": rep})
}

// importIncident creates an incident from a bundle archive: title, window
// and question from its incident.yaml; ?key= names it, and importing the
// same key again adds only what is new.
func (s *Server) importIncident(w http.ResponseWriter, r *http.Request) {
	body, err := s.limitUpload(w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	inc, rep, err := s.Service.ImportArchive(r.Context(), nil, body,
		investigate.UploadOptions{Key: r.URL.Query().Get("key"), Limits: s.Config.Archive})
	if err = body.check(err); err != nil {
		s.fail(w, r, err)
		return
	}
	v, err := s.incidentView(r, inc.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/incidents/"+strconv.FormatInt(inc.ID, 10))
	writeJSON(w, http.StatusCreated, map[string]any{"incident": v, "report": rep})
}

func (s *Server) uploadTarget(r *http.Request) (*causeway.Incident, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return nil, err
	}
	return s.DB.Incident(r.Context(), id)
}
