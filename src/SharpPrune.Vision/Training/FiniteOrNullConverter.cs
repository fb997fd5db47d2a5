using System.Text.Json;
using System.Text.Json.Serialization;

namespace SharpPrune.Vision.Training;

/// <summary>
/// Writes NaN and ±∞ as JSON <c>null</c> (as Python's <c>json</c> with <c>allow_nan=False</c> callers do) and reads
/// <c>null</c> back as NaN, so a diverged run's losses still make valid JSON lines instead of an exception.
/// </summary>
public sealed class FiniteOrNullConverter : JsonConverter<double>
{
    /// <summary>Serializer options with this converter and nothing else changed.</summary>
    public static JsonSerializerOptions Options { get; } = new() { WriteIndented = false, Converters = { new FiniteOrNullConverter() } };

    public override bool HandleNull => true;

    public override double Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.TokenType == JsonTokenType.Null ? double.NaN : reader.GetDouble();

    public override void Write(Utf8JsonWriter writer, double value, JsonSerializerOptions options)
    {
        if (double.IsFinite(value)) writer.WriteNumberValue(value);
        else writer.WriteNullValue();
    }
}
