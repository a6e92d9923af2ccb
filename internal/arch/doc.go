// Package arch holds no code: its test keeps the package layering of
// CONVENTIONS.md honest (requests flow down, events flow back up as
// return values and channels, never as imports).
package arch
