using System.Net;
using System.Text;

namespace SharpPrune.Plots;

/// <summary>
/// A self-contained HTML page (no scripts, no external files): a title, tables and charts embedded as inline SVG,
/// in the order they are added. Open it in any browser; it renders the same offline.
/// </summary>
public sealed class HtmlReport(string title)
{
    private readonly StringBuilder _body = new();

    public HtmlReport Heading(string text) { _body.Append("<h2>").Append(E(text)).Append("</h2>\n"); return this; }

    public HtmlReport Paragraph(string text) { _body.Append("<p>").Append(E(text)).Append("</p>\n"); return this; }

    /// <summary>A table; cells are text (escaped). Columns whose header ends with "%" or looks numeric are right-aligned.</summary>
    public HtmlReport Table(IReadOnlyList<string> header, IEnumerable<IReadOnlyList<string>> rows)
    {
        _body.Append("<table>\n<tr>");
        foreach (var h in header) _body.Append("<th>").Append(E(h)).Append("</th>");
        _body.Append("</tr>\n");
        foreach (var r in rows)
        {
            _body.Append("<tr>");
            foreach (var c in r) _body.Append(IsNumber(c) ? "<td class=\"n\">" : "<td>").Append(E(c)).Append("</td>");
            _body.Append("</tr>\n");
        }
        _body.Append("</table>\n");
        return this;
    }

    public HtmlReport Chart(Chart chart, string caption)
    {
        string svg = chart.Svg();
        int start = svg.IndexOf("<svg", StringComparison.Ordinal); // inline SVG takes no XML declaration
        _body.Append("<figure>").Append(start > 0 ? svg[start..] : svg).Append("<figcaption>").Append(E(caption)).Append("</figcaption></figure>\n");
        return this;
    }

    public string ToHtml() => $$"""
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>{{E(title)}}</title>
        <style>
        body { font-family: "DejaVu Sans", Arial, sans-serif; margin: 2em; color: #222; max-width: 1000px; }
        table { border-collapse: collapse; margin: 1em 0; font-size: 14px; }
        th, td { border: 1px solid #ccc; padding: 4px 10px; } th { background: #f0f0f0; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
        figure { margin: 1.5em 0; } figcaption { color: #555; font-size: 13px; }
        </style></head>
        <body>
        <h1>{{E(title)}}</h1>
        {{_body}}</body></html>

        """;

    public void Save(string path) => SharpPrune.IO.AtomicFile.WriteAllText(path, ToHtml());

    private static string E(string s) => WebUtility.HtmlEncode(s);

    private static bool IsNumber(string s) => s.Length > 0 && (char.IsDigit(s[0]) || s[0] == '-' && s.Length > 1) && s.TrimEnd('%', 's', 'x').All(c => char.IsDigit(c) || c is '.' or '-' or ',');
}
