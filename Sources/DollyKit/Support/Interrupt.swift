import CSIMD

/// Ctrl-C as a flag that long jobs (conversion, generation) poll between steps, so they stop
/// cleanly (partial files removed, text so far kept) instead of dying mid-write. A second Ctrl-C
/// before the flag is cleared ends the process at once.
public enum Interrupt {
    /// Installs the SIGINT handler; false if the system refused.
    @discardableResult
    public static func install() -> Bool { csimd_interrupt_install() == 0 }

    /// True once Ctrl-C has been pressed since `install()` or the last `clear()`.
    public static var requested: Bool { csimd_interrupt_requested() != 0 }

    /// Forgets a handled Ctrl-C (e.g. a chat that stopped one answer and goes on).
    public static func clear() { csimd_interrupt_clear() }
}
