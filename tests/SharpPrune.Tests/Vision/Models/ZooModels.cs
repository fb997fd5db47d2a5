using SharpPrune.NN;
using SharpPrune.Vision.Models;

namespace SharpPrune.Tests.Vision.Models;

/// <summary>
/// Zoo models built once per test run (the large ones take a while to initialise). Tests that use them only
/// read weights or run forwards; tests that change a model build their own. The collection keeps the test
/// classes that share these models from running at the same time.
/// </summary>
internal static class ZooModels
{
    private static readonly Dictionary<string, Lazy<Module>> Cache =
        ModelZoo.Names.ToDictionary(n => n, n => new Lazy<Module>(() => ModelZoo.Create(n, generator: new Generator(1))));

    public static Module Get(string name) => Cache[name].Value;
}

[CollectionDefinition("ZooModels")]
public sealed class ZooModelsCollection { }
