import ArgumentParser
import Engine
import Foundation

struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize", abstract: "Print the token ids of a text as a JSON array.")

    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "The text to tokenize.") var text: String?
    @Option(help: "Read the text from a file.") var file: String?
    @Flag(help: "Wrap the text as one user turn plus the generation prompt.") var chat = false

    func validate() throws {
        if (text == nil) == (file == nil) { throw ValidationError("give exactly one of --text or --file") }
    }

    func run() throws {
        try runReportingErrors {
            let loaded = try modelOptions.load()
            let input = try PromptOptions(prompt: text, promptFile: file, chat: chat).text()
            let ids = try loaded.encodePrompt(input, chat: chat)
            print("[" + ids.map(String.init).joined(separator: ",") + "]")
        }
    }
}

extension PromptOptions {
    init(prompt: String?, promptFile: String?, chat: Bool) {
        self.init()
        self.prompt = prompt
        self.promptFile = promptFile
        self.chat = chat
    }
}
