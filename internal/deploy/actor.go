package deploy

import "context"

type actorKey struct{}

// WithActor returns ctx saying who asks for the deployments made on it:
// a token's name, "admin-token", "webhook:github". The releases and
// deployments it creates record it (store.Release.CreatedBy).
func WithActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

// ActorOf is who ctx says asks ("" when it does not say: berth itself,
// or an unknown caller).
func ActorOf(ctx context.Context) string {
	a, _ := ctx.Value(actorKey{}).(string)
	return a
}
