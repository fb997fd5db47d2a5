namespace SharpPrune;

/// <summary>
/// Keeps error messages one readable line however hostile the input: names and lists taken from a file are
/// shortened (a 1 MB tensor name or 100,000 unexpected keys must not become a 1 MB message).
/// </summary>
public static class MessageText
{
    /// <summary>Longest name shown in full; longer ones keep their start and say how long they were.</summary>
    public const int MaxName = 120;

    /// <summary>Items of a list shown before "… and N more".</summary>
    public const int MaxItems = 10;

    /// <summary><paramref name="name"/>, or its first <see cref="MaxName"/> characters and its length.</summary>
    public static string Name(string? name)
    {
        if (name is null) return "null";
        return name.Length <= MaxName ? name : $"{name[..MaxName]}… ({name.Length:N0} characters)";
    }

    /// <summary>Up to <see cref="MaxItems"/> items, each shortened by <see cref="Name"/> and shown by
    /// <paramref name="format"/>, joined with ", "; the rest are counted.</summary>
    public static string List(IEnumerable<string> items, Func<string, string>? format = null)
    {
        ArgumentNullException.ThrowIfNull(items);
        format ??= s => s;
        var shown = new List<string>(MaxItems);
        int more = 0;
        foreach (var item in items)
        {
            if (shown.Count < MaxItems) shown.Add(format(Name(item)));
            else more++;
        }
        string text = string.Join(", ", shown);
        return more == 0 ? text : $"{text}, … and {more:N0} more";
    }
}
