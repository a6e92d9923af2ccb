// Package volhelper is what berth's helper image runs inside a
// container beside a volume (berth volume-helper …): the last step of a
// restore, which makes a volume's contents a copy of a staged one.
//
// Invariants: it touches only the two directories it is given; the
// source is only read; a copy keeps every entry's type, mode, owner,
// times and hard links. It imports nothing of berth's.
package volhelper
