import CSIMD

/// SIGBUS on a mapped file (truncated under the process) as one line naming the file and exit
/// status 1, instead of a bare crash. The handler is the program's to install (the CLI does);
/// mappings register themselves whether or not it is installed.
public enum MappingFault {
    @discardableResult
    public static func install() -> Bool { csimd_mapfault_install() == 0 }
}
