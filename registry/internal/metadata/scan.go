package metadata

import (
	"errors"
	"fmt"
)

// The hessian2 decoder of dubbo-go-hessian2 trusts the lengths it reads:
// a class definition or a list announcing 2^31 entries makes it allocate
// that much memory before noticing that the input is short, and deeply
// nested lists recurse until the goroutine's stack limit, a fatal error
// that recover cannot catch. A reply from the network is therefore walked
// first by checkHessian, which follows the hessian 2.0 grammar
// (http://hessian.caucho.com/doc/hessian-serialization.html) without
// allocating, and rejects every count larger than the bytes left, and
// nesting deeper than maxDepth. Only a body that passes is handed to the
// library.

// maxDepth bounds the nesting of hessian2 values. A MetadataInfo nests
// about 5 deep, a Java exception with its causes a few dozen.
const maxDepth = 100

var errShort = errors.New("truncated hessian2 data")

// checkHessian checks that b holds a sequence of well-formed hessian2
// values with plausible lengths.
func checkHessian(b []byte) error {
	s := scanner{b: b}
	for s.off < len(s.b) {
		if err := s.value(0); err != nil {
			return fmt.Errorf("hessian2 at byte %d: %w", s.off, err)
		}
	}
	return nil
}

type scanner struct {
	b    []byte
	off  int
	defs []int // field counts of the class definitions seen
}

func (s *scanner) left() int { return len(s.b) - s.off }

func (s *scanner) byte() (byte, error) {
	if s.off >= len(s.b) {
		return 0, errShort
	}
	c := s.b[s.off]
	s.off++
	return c, nil
}

func (s *scanner) skip(n int) error {
	if n < 0 || n > s.left() {
		return errShort
	}
	s.off += n
	return nil
}

func (s *scanner) uint(n int) (uint64, error) {
	if n > s.left() {
		return 0, errShort
	}
	var v uint64
	for _, c := range s.b[s.off : s.off+n] {
		v = v<<8 | uint64(c)
	}
	s.off += n
	return v, nil
}

// count reads an int used as a length, and checks that count values of
// at least per bytes each fit in what is left.
func (s *scanner) count(per int) (int, error) {
	v, err := s.int()
	if err != nil {
		return 0, err
	}
	if v < 0 || v > int64(s.left()/per) {
		return 0, fmt.Errorf("length %d with %d bytes left", v, s.left())
	}
	return int(v), nil
}

// int reads an int, or a long (the library accepts both for lengths and
// indexes).
func (s *scanner) int() (int64, error) {
	c, err := s.byte()
	if err != nil {
		return 0, err
	}
	var v int64
	switch {
	case c >= 0x80 && c <= 0xbf: // int, one byte
		v = int64(c) - 0x90
	case c >= 0xc0 && c <= 0xcf: // int, two bytes
		b0, err := s.byte()
		if err != nil {
			return 0, err
		}
		v = (int64(c)-0xc8)<<8 | int64(b0)
	case c >= 0xd0 && c <= 0xd7: // int, three bytes
		u, err := s.uint(2)
		if err != nil {
			return 0, err
		}
		v = (int64(c)-0xd4)<<16 | int64(u)
	case c == 'I' || c == 0x59: // int, or long stored as int
		u, err := s.uint(4)
		if err != nil {
			return 0, err
		}
		v = int64(int32(uint32(u)))
	case c >= 0xd8 && c <= 0xef: // long, one byte
		v = int64(c) - 0xe0
	case c >= 0xf0: // long, two bytes
		b0, err := s.byte()
		if err != nil {
			return 0, err
		}
		v = (int64(c)-0xf8)<<8 | int64(b0)
	case c >= 0x38 && c <= 0x3f: // long, three bytes
		u, err := s.uint(2)
		if err != nil {
			return 0, err
		}
		v = (int64(c)-0x3c)<<16 | int64(u)
	case c == 'L':
		u, err := s.uint(8)
		if err != nil {
			return 0, err
		}
		v = int64(u)
	default:
		return 0, fmt.Errorf("tag %#02x where an int is expected", c)
	}
	return v, nil
}

// value skips one value; depth is its nesting level.
func (s *scanner) value(depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("values nested more than %d deep", maxDepth)
	}
	c, err := s.byte()
	if err != nil {
		return err
	}
	switch {
	case c == 'N' || c == 'T' || c == 'F': // null, booleans
		return nil
	case c <= 0x1f, c >= 0x30 && c <= 0x33, c == 'S', c == 'R': // string
		return s.stringData(c)
	case c >= 0x20 && c <= 0x2f, c >= 0x34 && c <= 0x37, c == 'B', c == 'A': // binary
		return s.binaryData(c)
	case c >= 0x80 && c <= 0xbf, c >= 0xd8 && c <= 0xef, c == 0x5b, c == 0x5c: // one-byte int, long, double
		return nil
	case c >= 0xc0 && c <= 0xcf, c >= 0xf0, c == 0x5d: // int, long, double + 1 byte
		return s.skip(1)
	case c >= 0xd0 && c <= 0xd7, c >= 0x38 && c <= 0x3f, c == 0x5e: // + 2 bytes
		return s.skip(2)
	case c == 'I', c == 0x59, c == 0x5f, c == 0x4b: // int, long, double, date + 4 bytes
		return s.skip(4)
	case c == 'L', c == 'D', c == 0x4a: // long, double, date + 8 bytes
		return s.skip(8)
	case c == 'Q': // reference to an earlier value
		_, err := s.int()
		return err
	case c == 'C': // class definition, then the value that uses it
		if err := s.value(depth + 1); err != nil { // class name
			return err
		}
		n, err := s.count(1)
		if err != nil {
			return err
		}
		for range n {
			if err := s.value(depth + 1); err != nil { // field names
				return err
			}
		}
		s.defs = append(s.defs, n)
		// The library recurses into the next value: count it as nesting.
		return s.value(depth + 1)
	case c == 'O', c >= 0x60 && c <= 0x6f: // object instance
		idx := int(c) - 0x60
		if c == 'O' {
			if idx, err = s.count(1); err != nil {
				return err
			}
		}
		if idx >= len(s.defs) {
			return fmt.Errorf("object of undefined class %d", idx)
		}
		return s.values(depth+1, s.defs[idx])
	case c == 'U', c == 'M': // variable-length typed list, typed map
		if err := s.value(depth + 1); err != nil { // type
			return err
		}
		return s.untilEnd(depth + 1)
	case c == 'W', c == 'H': // variable-length untyped list, untyped map
		return s.untilEnd(depth + 1)
	case c == 'V': // fixed-length typed list
		if err := s.value(depth + 1); err != nil {
			return err
		}
		n, err := s.count(1)
		if err != nil {
			return err
		}
		return s.values(depth+1, n)
	case c == 'X': // fixed-length untyped list
		n, err := s.count(1)
		if err != nil {
			return err
		}
		return s.values(depth+1, n)
	case c >= 0x70 && c <= 0x77: // short fixed-length typed list
		if err := s.value(depth + 1); err != nil {
			return err
		}
		return s.values(depth+1, int(c-0x70))
	case c >= 0x78 && c <= 0x7f: // short fixed-length untyped list
		return s.values(depth+1, int(c-0x78))
	default:
		return fmt.Errorf("unknown tag %#02x", c)
	}
}

func (s *scanner) values(depth, n int) error {
	for range n {
		if err := s.value(depth); err != nil {
			return err
		}
	}
	return nil
}

// untilEnd skips values up to the 'Z' that ends a list or map.
func (s *scanner) untilEnd(depth int) error {
	for {
		if s.off < len(s.b) && s.b[s.off] == 'Z' {
			s.off++
			return nil
		}
		if err := s.value(depth); err != nil {
			return err
		}
	}
}

// binaryData skips the bytes of a binary whose tag is c, following
// chunks; the final chunk may use any of the binary forms.
func (s *scanner) binaryData(c byte) error {
	for {
		var n int
		switch {
		case c >= 0x20 && c <= 0x2f:
			n = int(c - 0x20)
		case c >= 0x34 && c <= 0x37:
			b0, err := s.byte()
			if err != nil {
				return err
			}
			n = int(c-0x34)<<8 | int(b0)
		case c == 'A' || c == 'B':
			u, err := s.uint(2)
			if err != nil {
				return err
			}
			n = int(u)
		default:
			return fmt.Errorf("tag %#02x in a chunked binary", c)
		}
		if err := s.skip(n); err != nil {
			return err
		}
		if c != 'A' {
			return nil
		}
		var err error
		if c, err = s.byte(); err != nil {
			return err
		}
	}
}

// stringData skips the characters of a string whose tag is c, following
// chunks. Lengths count UTF-16 units of a modified UTF-8 encoding, as the
// hessian library reads them: 1-3 byte sequences, a surrogate pair being
// two 3-byte sequences.
func (s *scanner) stringData(c byte) error {
	for {
		var n int
		switch {
		case c <= 0x1f:
			n = int(c)
		case c >= 0x30 && c <= 0x33:
			b0, err := s.byte()
			if err != nil {
				return err
			}
			n = int(c-0x30)<<8 | int(b0)
		case c == 'S' || c == 'R':
			u, err := s.uint(2)
			if err != nil {
				return err
			}
			n = int(u)
		default:
			return fmt.Errorf("tag %#02x in a chunked string", c)
		}
		if err := s.chars(n); err != nil {
			return err
		}
		if c != 'R' {
			return nil
		}
		var err error
		if c, err = s.byte(); err != nil {
			return err
		}
	}
}

// chars skips n characters.
func (s *scanner) chars(n int) error {
	for read := 0; read < n; {
		if s.off >= len(s.b) {
			return errShort
		}
		c := s.b[s.off]
		switch {
		case c < 0x80:
			s.off++
			read++
		case c&0xe0 == 0xc0:
			if err := s.skip(2); err != nil {
				return err
			}
			read++
		case c&0xf0 == 0xe0:
			if s.left() < 3 {
				return errShort
			}
			r := uint32(c&0x0f)<<12 | uint32(s.b[s.off+1]&0x3f)<<6 | uint32(s.b[s.off+2]&0x3f)
			if r >= 0xd800 && r <= 0xdbff { // high surrogate: a pair
				if err := s.skip(6); err != nil {
					return err
				}
				read += 2
				continue
			}
			s.off += 3
			read++
		default:
			return fmt.Errorf("bad UTF-8 lead byte %#02x", c)
		}
	}
	return nil
}
