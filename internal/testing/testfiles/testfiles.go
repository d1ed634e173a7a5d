// Package testfiles makes small files of each type file sharing carries
// (internal/filetype), for tests: pictures of a given size and the
// smallest documents that are what they claim.
package testfiles

import (
	"archive/zip"
	"bytes"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
)

// picture is a w×h image with a pattern, so that its encodings are not
// trivially small.
func picture(w, h int) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for x := range w {
		for y := range h {
			img.Set(x, y, color.RGBA{uint8(40 + x*7), uint8(90 + y*3), uint8(200 - x*y), 255})
		}
	}
	return img
}

// PNG is a w×h PNG.
func PNG(w, h int) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, picture(w, h)); err != nil {
		panic(err) // an in-memory encoder does not fail
	}
	return b.Bytes()
}

// JPEG is a w×h JPEG.
func JPEG(w, h int) []byte {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, picture(w, h), nil); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// GIF is a w×h GIF.
func GIF(w, h int) []byte {
	var b bytes.Buffer
	if err := gif.Encode(&b, picture(w, h), nil); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// PDF is a one-page PDF with text.
func PDF(text string) []byte {
	return []byte("%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n" +
		"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 100]>>endobj\n% " + text + "\ntrailer<</Root 1 0 R>>\n%%EOF\n")
}

// Office is an Office Open XML package holding [Content_Types].xml and
// the given parts (each with a line of XML): "word/document.xml" makes a
// DOCX, "xl/workbook.xml" an XLSX, "ppt/presentation.xml" a PPTX; none, a
// zip that is no document.
func Office(parts ...string) []byte {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, name := range append([]string{"[Content_Types].xml"}, parts...) {
		w, err := zw.Create(name)
		if err != nil {
			panic(err)
		}
		if _, err := w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><x/>`)); err != nil {
			panic(err)
		}
	}
	if err := zw.Close(); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// Zip is a zip of one text file: no document.
func Zip() []byte {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	w, err := zw.Create("notes.txt")
	if err != nil {
		panic(err)
	}
	_, _ = w.Write([]byte("hello"))
	if err := zw.Close(); err != nil {
		panic(err)
	}
	return b.Bytes()
}
