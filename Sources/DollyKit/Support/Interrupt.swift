import CSIMD

/// Ctrl-C as a flag that long jobs (conversion, generation) poll between steps, so they stop
/// cleanly (partial files removed, text so far kept) instead of dying mid-write. A second Ctrl-C
/// before the flag is cleared ends the process at once.
public enum Interrupt {
    /// Installs the SIGINT handler; false if the system refused.
    @discardableResult
    public static func install() -> Bool { csimd_interrupt_install() == 0 }

    /// SIGINT, SIGTERM and SIGHUP all set the flag: for commands writing a file, which an init
    /// system's stop or a closed terminal must not leave half-written.
    @discardableResult
    public static func installForWriting() -> Bool { install() && csimd_interrupt_install_termination() == 0 }

    /// True once Ctrl-C has been pressed since `install()` or the last `clear()`.
    public static var requested: Bool { csimd_interrupt_requested() != 0 }

    /// The signal that set the flag (SIGINT 2, SIGHUP 1, SIGTERM 15), 0 if none.
    public static var signal: Int32 { csimd_interrupt_signal() }

    /// The signal's name, for a message.
    public static var signalName: String {
        switch signal {
        case 1: return "SIGHUP"
        case 2: return "SIGINT"
        case 15: return "SIGTERM"
        default: return "signal \(signal)"
        }
    }

    /// Forgets a handled Ctrl-C (e.g. a chat that stopped one answer and goes on).
    public static func clear() { csimd_interrupt_clear() }
}
