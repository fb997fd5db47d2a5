namespace SharpPrune.Fuzz;

/// <summary>What one fuzz case did to a reader.</summary>
public enum Outcome
{
    /// <summary>Refused with an expected exception type and a one-line message of reasonable length.</summary>
    CleanError,
    /// <summary>Read without error (the mutation kept the input valid, or hit bytes the format does not check).</summary>
    AcceptedValid,
    /// <summary>Any other exception (NullReference, IndexOutOfRange, Overflow…), or a message that says "internal error".</summary>
    Crash,
    /// <summary>Did not finish within the per-case time limit.</summary>
    Hang,
    /// <summary>Allocated more than the per-case budget, or ran out of the run's memory cap.</summary>
    OverAllocation,
}

/// <summary>
/// One reader under fuzz. <see cref="Seeds"/> are valid inputs that mutations start from; <see cref="Read"/> parses
/// one input (given as bytes plus a scratch folder, for readers that need files) and throws for bad input;
/// <see cref="Result"/> optionally turns a normal return into an outcome (the CLI reports errors by exit code).
/// Registering a reader is one entry in <see cref="FuzzTargets.All"/>.
/// </summary>
public sealed record FuzzTarget(string Name, Func<IReadOnlyList<byte[]>> Seeds, Func<byte[], string, Outcome?> Read,
    Func<Mutator, byte[], byte[]>? Mutate = null)
{
    /// <summary>A mutated copy of <paramref name="seed"/>: the target's own mutation, or the generic byte-level one.</summary>
    public byte[] MutateSeed(Mutator m, byte[] seed) => Mutate is null ? m.Mutate(seed) : Mutate(m, seed);

    /// <summary>Exception types that count as a clean refusal of bad input.</summary>
    public static bool IsCleanType(Exception e) => e is InvalidDataException or IOException or FormatException
        or ArgumentException or KeyNotFoundException or SharpPrune.NN.StateDictException or System.Text.Json.JsonException
        or NotSupportedException or InvalidOperationException
        && e is not (ArgumentNullException or ObjectDisposedException);
}
