// Names of the Profile service that both Node and k6 scripts use; no imports, so k6 can load it too.

/** The service upstreams/grpc/profile.proto declares: the default topology's gRPC app prefix is `/<this>`. */
export const PROFILE_SERVICE = "edgerim.profile.v1.Profile";
export const PROFILE_PROTO_FILE = "profile.proto";
