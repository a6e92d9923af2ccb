package proxy

// ServerObserver is told, by a Server with a Lane, which of its paths
// answered a request. Its methods run on the request path, on many
// connections at once: they must be safe for concurrent use and quick.
type ServerObserver interface {
	// LaneAnswered is called once for each request the lane takes,
	// before its answer starts (on a connection's goroutine or on an
	// event loop). A request the lane declines, for the handler to
	// serve, is not told.
	LaneAnswered()
	// LoopAnswered is called once for each request whose answer an
	// event loop writes itself, before it writes it; LaneAnswered was
	// called for it too. An answer the loop hands back to a goroutine
	// is not told.
	LoopAnswered()
}
