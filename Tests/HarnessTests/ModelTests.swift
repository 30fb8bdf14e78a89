import Engine
import TestSupport
import Testing

/// The tests that run SmolLM2-135M (models/, fetched by scripts/fetch-model.sh). Nested in one
/// serialized suite: the compute pool runs one forward pass at a time.
@Suite(.serialized) struct ModelTests {
    static let loaded: Result<LoadedModel, Error> = Result { try LoadedModel.load(path: Fixtures.requireModel().path) }
    static func model() throws -> LoadedModel { try loaded.get() }
}
